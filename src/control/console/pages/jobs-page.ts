/** Jobs: what the console (and the API) started, running ones first; one job's steps. */
import { html, type Html } from '../html.js';
import { FINISHED, type ConsoleJob } from '../types.js';
import { page, stateBadge, when, type Frame } from './layout.js';

export function jobRows(base: string, jobs: ConsoleJob[]): Html {
  if (!jobs.length) return html`<p class="muted">No jobs.</p>`;
  return html`<table class="jobs"><thead><tr><th>Job</th><th>What</th><th>Tenant</th><th>State</th><th>Steps done</th><th>Started</th><th>By</th></tr></thead><tbody>
${jobs.map(
  (j) => html`<tr data-job="${j.id}"><td><a href="${base}/jobs/${encodeURIComponent(j.id)}">${j.id}</a></td><td>${j.kind}</td><td>${j.tenant ? html`<a href="${base}/tenants/${encodeURIComponent(j.tenant)}">${j.tenant}</a>` : '–'}</td><td>${stateBadge(j.state)}</td><td>${(j.steps ?? []).length}</td><td>${when(j.createdAt)}</td><td>${j.by ?? ''}</td></tr>`,
)}
</tbody></table>`;
}

export function jobsPage(frame: Frame, jobs: ConsoleJob[]): string {
  const running = jobs.filter((j) => !FINISHED.has(j.state));
  const done = jobs.filter((j) => FINISHED.has(j.state));
  return page(
    { ...frame, refresh: running.length ? 3 : undefined },
    html`<h1>Jobs</h1><h2>In progress</h2>${jobRows(frame.base, running)}<h2>Finished</h2>${jobRows(frame.base, done.slice(0, 100))}`,
  );
}

export function jobPage(frame: Frame, j: ConsoleJob): string {
  const finished = FINISHED.has(j.state);
  return page(
    { ...frame, refresh: finished ? undefined : 2 },
    html`<h1>Job ${j.id} ${stateBadge(j.state)}</h1>
<dl class="facts">
<dt>What</dt><dd>${j.kind}</dd>
${j.tenant ? html`<dt>Tenant</dt><dd><a href="${frame.base}/tenants/${encodeURIComponent(j.tenant)}">${j.tenant}</a></dd>` : ''}
<dt>Started</dt><dd>${when(j.createdAt)}</dd>
${j.finishedAt ? html`<dt>Finished</dt><dd>${when(j.finishedAt)}</dd>` : ''}
${j.by ? html`<dt>By</dt><dd>${j.by}</dd>` : ''}
<dt>Steps done</dt><dd>${(j.steps ?? []).length ? html`<ol class="steps">${(j.steps ?? []).map((s) => html`<li>${s}</li>`)}</ol>` : html`<span class="muted">none yet</span>`}</dd>
${j.error ? html`<dt>Error</dt><dd class="error">${j.error}</dd>` : ''}
</dl>
${finished ? '' : html`<p class="muted">This page reloads itself until the job finishes.</p>`}`,
  );
}
