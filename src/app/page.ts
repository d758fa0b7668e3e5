/**
 * The HTML of the polls page: plain forms that work without JavaScript, every user
 * string escaped, stable hooks for browser tests (`#tenant`, `section.poll[data-poll-id]`,
 * `span.votes[data-choice-id]`). No external assets.
 */
import type { Poll } from './queries.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (ch) => ENTITIES[ch]!);
}

/** Allows inline styles only; no scripts, no foreign forms, no framing. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE = `
  body { font: 16px/1.45 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
  h1 { margin-bottom: 0; } .subtitle { margin-top: 0; color: #666; }
  .poll, .new-poll, .error { border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1.25rem 0; }
  .poll h2, .new-poll h2 { margin-top: 0; font-size: 1.15rem; }
  .choices { list-style: none; padding: 0; }
  .choices li { display: flex; justify-content: space-between; padding: .25rem 0; border-bottom: 1px solid #f0f0f0; }
  .votes { font-variant-numeric: tabular-nums; color: #555; }
  label { display: block; margin: .5rem 0; }
  input[type=text], textarea { width: 100%; box-sizing: border-box; padding: .4rem; font: inherit; }
  button { font: inherit; padding: .35rem 1rem; cursor: pointer; }
  .error { border-color: #c33; color: #900; }`;

function layout(tenant: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(tenant)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1 id="tenant">${escapeHtml(tenant)}</h1>
<p class="subtitle">Polls</p>
${body}
</body>
</html>
`;
}

function renderPoll(poll: Poll): string {
  const choices = poll.choices
    .map(
      (c) => `      <li><label><input type="radio" name="choiceId" value="${c.id}" required> <span class="text">${escapeHtml(c.text)}</span></label>
        <span class="votes" data-choice-id="${c.id}">${c.votes}</span></li>`,
    )
    .join('\n');
  return `<section class="poll" data-poll-id="${poll.id}">
  <h2 class="question">${escapeHtml(poll.question)}</h2>
  <form method="post" action="/polls/${poll.id}/vote">
    <ul class="choices">
${choices}
    </ul>
    <label>Your name <input type="text" name="voter" required maxlength="100"></label>
    <button type="submit" class="vote">Vote</button>
  </form>
</section>`;
}

const NEW_POLL_FORM = `<section class="new-poll" id="new-poll">
  <h2>New poll</h2>
  <form method="post" action="/polls">
    <label>Question <input type="text" name="question" required maxlength="200"></label>
    <label>Choices, one per line (2 to 10)
      <textarea name="choices" rows="4" required></textarea></label>
    <button type="submit" class="create">Create poll</button>
  </form>
</section>`;

export function renderPollsPage(tenant: string, polls: Poll[]): string {
  const list = polls.length ? polls.map(renderPoll).join('\n') : '<p id="no-polls">No polls yet.</p>';
  return layout(tenant, 'Polls', `<main>\n${list}\n${NEW_POLL_FORM}\n</main>`);
}

export function renderErrorPage(tenant: string, statusCode: number, message: string): string {
  return layout(
    tenant,
    'Error',
    `<main><section class="error" role="alert"><p>${escapeHtml(message)} (${statusCode})</p>
<p><a href="/">Back to the polls</a></p></section></main>`,
  );
}
