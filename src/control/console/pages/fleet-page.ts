/** The fleet: every tenant the caller may see, filtered, sorted and paged by the query string. */
import { html, query, type Html } from '../html.js';
import { sparkline } from '../chart.js';
import { PER_PAGE, type FleetPage, type FleetQuery, type SortKey } from '../fleet-query.js';
import { STATES, type FleetRow } from '../fleet.js';
import { bytes, page, stateBadge, when, type Frame } from './layout.js';

const COLUMNS: [SortKey, string, boolean][] = [
  ['name', 'Tenant', false],
  ['state', 'State', false],
  ['release', 'Release', false],
  ['server', 'Server', false],
  ['memory', 'Memory', true],
  ['rpm', 'Req/min', true],
  ['backup', 'Last backup', false],
];

const keep = (q: FleetQuery, over: Partial<FleetQuery>) => {
  const m = { ...q, ...over };
  return query({ q: m.q, state: m.state, server: m.server, sort: m.sort === 'name' ? undefined : m.sort, dir: m.dir === 'asc' ? undefined : m.dir, per: m.per === 50 ? undefined : m.per, page: m.page === 1 ? undefined : m.page });
};

function row(base: string, r: FleetRow): Html {
  return html`<tr data-tenant="${r.name}">
<td><a href="${base}/tenants/${encodeURIComponent(r.name)}">${r.name}</a>${r.domains.length ? html` <span class="muted">${r.domains.join(', ')}</span>` : ''}</td>
<td>${stateBadge(r.state)}</td>
<td>${r.release}</td>
<td>${r.server}</td>
<td class="num">${r.memoryMB !== undefined ? `${r.memoryMB} MB` : '–'}</td>
<td class="num">${r.rpm !== undefined ? r.rpm : '–'}</td>
<td>${r.lastBackup ? html`${when(r.lastBackup.at)} <span class="muted">${bytes(r.lastBackup.bytes)}</span>` : html`<span class="muted">none</span>`}</td>
<td>${sparkline(r.chart.values, r.chart.label)}</td>
</tr>`;
}

export function fleetPage(frame: Frame, q: FleetQuery, p: FleetPage, servers: string[], jobsRunning = 0): string {
  const base = frame.base;
  const head = COLUMNS.map(([key, label, num]) => {
    const dir = q.sort === key && q.dir === 'asc' ? 'desc' : 'asc';
    const mark = q.sort === key ? (q.dir === 'asc' ? ' ▲' : ' ▼') : '';
    return html`<th class="${num ? 'num' : ''}" ${q.sort === key ? html`aria-sort="${q.dir === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${base}/${keep(q, { sort: key, dir, page: 1 })}">${label}${mark}</a></th>`;
  });
  return page(
    frame,
    html`<h1>Fleet <span class="muted">${p.matched === p.total ? `${p.total} tenants` : `${p.matched} of ${p.total} tenants`}</span></h1>
${jobsRunning ? html`<p class="notice" id="jobs-running"><a href="${base}/jobs">${jobsRunning} job${jobsRunning === 1 ? '' : 's'} in progress</a></p>` : ''}
<form class="filter" method="get" action="${base}/">
<label>Name or domain<input name="q" value="${q.q}" placeholder="acme"></label>
<label>State<select name="state"><option value="">any</option>${STATES.map((s) => html`<option ${q.state === s ? 'selected' : ''}>${s}</option>`)}</select></label>
<label>Server<select name="server"><option value="">any</option>${servers.map((s) => html`<option ${q.server === s ? 'selected' : ''}>${s}</option>`)}</select></label>
<label>Per page<select name="per">${PER_PAGE.map((n) => html`<option ${q.per === n ? 'selected' : ''}>${n}</option>`)}</select></label>
<input type="hidden" name="sort" value="${q.sort}"><input type="hidden" name="dir" value="${q.dir}">
<button type="submit">Filter</button>
</form>
<table class="fleet">
<thead><tr>${head}<th>Recent</th></tr></thead>
<tbody>${p.rows.length ? p.rows.map((r) => row(base, r)) : html`<tr><td colspan="8" class="muted">No tenant matches.</td></tr>`}</tbody>
</table>
<nav class="pager" aria-label="pages">
${p.page > 1 ? html`<a rel="prev" href="${base}/${keep(q, { page: p.page - 1 })}">← previous</a>` : ''}
<span>page ${p.page} of ${p.pages}</span>
${p.page < p.pages ? html`<a rel="next" href="${base}/${keep(q, { page: p.page + 1 })}">next →</a>` : ''}
</nav>`,
  );
}
