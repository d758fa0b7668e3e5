/** The frame of every console page: title, navigation, who is logged in, the styles. */
import { html, raw, type Html } from '../html.js';
import type { Caller } from '../types.js';

export interface Frame {
  base: string;
  title: string;
  caller?: Caller;
  csrf?: string;
  /** seconds after which the page reloads itself (jobs in progress); no JavaScript needed */
  refresh?: number;
  notice?: string;
  error?: string;
}

const STYLE = raw(`
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --line: #d9dee6; --bg: #f6f7f9; --accent: #2457c5; --bad: #b3261e; --ok: #1d7a3c; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #1d2430; color: #fff; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; letter-spacing: .04em; }
header nav { display: flex; gap: 1rem; flex: 1; }
header .who { color: #c8cfdb; font-size: 12px; }
header form { margin: 0; }
header button { background: transparent; color: #fff; border: 1px solid #58627a; border-radius: 4px; padding: .2rem .6rem; cursor: pointer; }
main { padding: 1rem 1.2rem 2rem; max-width: 1200px; }
h1 { font-size: 20px; margin: .2rem 0 1rem; }
h2 { font-size: 16px; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; white-space: nowrap; }
th { background: #eef1f5; font-weight: 600; font-size: 12px; }
th a { color: var(--ink); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
a { color: var(--accent); }
.state { display: inline-block; padding: 0 .45rem; border-radius: 9px; font-size: 12px; background: #e7eaf0; }
.state-online { background: #dcf1e2; color: var(--ok); }
.state-suspended, .state-errored, .state-failed, .state-error { background: #fbe0de; color: var(--bad); }
.state-hibernated { background: #e6e9f7; color: #3a4a8c; }
.state-running, .state-queued, .state-provisioning, .state-removing, .state-launching { background: #fdf0d5; color: var(--warn); }
.state-done, .state-ok { background: #dcf1e2; color: var(--ok); }
.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.spark .base { stroke: var(--line); }
form.filter { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .8rem; }
form.filter label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; }
input, select { padding: .25rem .4rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button { padding: .3rem .8rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.pager { display: flex; gap: 1rem; align-items: center; margin: .6rem 0; color: var(--muted); }
.muted { color: var(--muted); }
.notice { padding: .5rem .8rem; border-radius: 4px; background: #dcf1e2; margin-bottom: 1rem; }
.error { padding: .5rem .8rem; border-radius: 4px; background: #fbe0de; color: var(--bad); margin-bottom: 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: .8rem; }
.actions form { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; display: flex; gap: .5rem; align-items: center; margin: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.confirm { background: #fff; border: 1px solid var(--bad); border-radius: 6px; padding: 1rem 1.2rem; max-width: 640px; }
.login { max-width: 380px; margin: 4rem auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1.4rem; }
.login input { width: 100%; margin: .4rem 0 1rem; }
.login code { white-space: nowrap; }
`);

export function page(f: Frame, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${f.refresh ? html`<meta http-equiv="refresh" content="${f.refresh}">` : ''}
<title>${f.title} · silo console</title>
<style>${STYLE}</style>
<script src="${f.base}/console.js" defer></script>
</head>
<body>
<header>
<a class="brand" href="${f.base}/">silo</a>
${f.caller
  ? html`<nav><a href="${f.base}/">Fleet</a><a href="${f.base}/jobs">Jobs</a></nav>
<span class="who">token ${f.caller.id} · ${f.caller.scope}${f.caller.tenant ? html` · tenant ${f.caller.tenant}` : ''}</span>
<form method="post" action="${f.base}/logout"><input type="hidden" name="csrf" value="${f.csrf ?? ''}"><button type="submit">Log out</button></form>`
  : ''}
</header>
<main>
${f.notice ? html`<p class="notice" role="status">${f.notice}</p>` : ''}
${f.error ? html`<p class="error" role="alert">${f.error}</p>` : ''}
${body}
</main>
</body>
</html>
`.text;
}

export const stateBadge = (state: string): Html => html`<span class="state state-${state.replace(/[^a-z-]/g, '')}">${state}</span>`;

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

/** `3 min ago` from an ISO time, with the time itself in a tooltip. */
export function when(iso: string | undefined, now = Date.now()): Html {
  if (!iso) return html`<span class="muted">never</span>`;
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const ago = s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 172800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`;
  return html`<time datetime="${iso}" title="${iso}">${ago}</time>`;
}
