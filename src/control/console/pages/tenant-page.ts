/**
 * One tenant: what it is, its recent figures, its backups, its actions (write scope only),
 * its jobs and its recent audit entries. Each action is a plain form; the ones that can
 * lose data (restore, deploy, remove) lead to a confirmation page first.
 */
import { html, type Html } from '../html.js';
import { sparkline } from '../chart.js';
import type { FleetRow } from '../fleet.js';
import type { BackupEntry } from '../../../backup/manifest.js';
import type { Release } from '../../../apps/releases.js';
import type { Caller, ConsoleAuditEntry, ConsoleJob } from '../types.js';
import { jobRows } from './jobs-page.js';
import { bytes, page, stateBadge, when, type Frame } from './layout.js';

export interface TenantView {
  row: FleetRow;
  createdAt: string;
  schemaVersion: number;
  backups: BackupEntry[];
  releases: Release[];
  jobs: ConsoleJob[];
  /** undefined: no audit log */
  audit?: ConsoleAuditEntry[];
}

const fileName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

function action(base: string, csrf: string, name: string, act: string, label: string, body: Html | string = '', cls = ''): Html {
  return html`<form method="post" action="${base}/tenants/${encodeURIComponent(name)}/${act}"><input type="hidden" name="csrf" value="${csrf}">${body}<button type="submit" class="${cls}" data-action="${act}">${label}</button></form>`;
}

function actions(base: string, csrf: string, v: TenantView): Html {
  const { name, state } = v.row;
  const forms: Html[] = [];
  if (state === 'suspended') forms.push(action(base, csrf, name, 'resume', 'Resume'));
  else forms.push(action(base, csrf, name, 'suspend', 'Suspend', html`<input name="message" maxlength="300" placeholder="message to visitors (optional)" aria-label="message to visitors">`));
  forms.push(action(base, csrf, name, 'backup', 'Back up now'));
  if (state === 'hibernated' || state === 'stopped') forms.push(action(base, csrf, name, 'wake', 'Wake'));
  if (state === 'online') forms.push(action(base, csrf, name, 'sleep', 'Sleep'));
  if (v.backups.length)
    forms.push(
      action(
        base,
        csrf,
        name,
        'restore',
        'Restore…',
        html`<select name="backup" aria-label="backup to restore">${v.backups.map((b) => html`<option value="${fileName(b.file)}">${b.startedAt} · ${b.kind} · ${bytes(b.bytes)}</option>`)}</select>`,
        'secondary',
      ),
    );
  if (v.releases.length)
    forms.push(
      action(
        base,
        csrf,
        name,
        'deploy',
        'Deploy…',
        html`<select name="release" aria-label="release to deploy">${v.releases.map((r) => html`<option value="${r.id}">${r.name}${r.version ? `@${r.version}` : ''} (${r.id})</option>`)}</select>`,
        'secondary',
      ),
    );
  forms.push(action(base, csrf, name, 'remove', 'Remove…', '', 'danger'));
  return html`<h2>Actions</h2><div class="actions">${forms}</div>`;
}

export function tenantPage(frame: Frame & { caller: Caller; csrf: string }, v: TenantView): string {
  const r = v.row;
  const base = frame.base;
  return page(
    { ...frame, refresh: v.jobs.some((j) => j.state === 'running' || j.state === 'queued') ? 3 : undefined },
    html`<h1><span id="tenant">${r.name}</span> ${stateBadge(r.state)}</h1>
<dl class="facts">
<dt>Release</dt><dd>${r.release}</dd>
<dt>Server</dt><dd>${r.server}</dd>
<dt>Domains</dt><dd>${r.domains.length ? r.domains.join(', ') : html`<span class="muted">none besides its subdomain</span>`}</dd>
<dt>Schema version</dt><dd>${v.schemaVersion}</dd>
<dt>Memory</dt><dd>${r.memoryMB !== undefined ? `${r.memoryMB} MB` : '–'}</dd>
<dt>Requests per minute</dt><dd>${r.rpm ?? '–'}</dd>
<dt>Recent</dt><dd>${sparkline(r.chart.values, r.chart.label)} <span class="muted">${r.chart.label}</span></dd>
${r.suspended ? html`<dt>Suspended</dt><dd>by ${r.suspended.by}, ${when(r.suspended.since)}${r.suspended.message ? html`: “${r.suspended.message}”` : ''}</dd>` : ''}
<dt>Created</dt><dd>${when(v.createdAt)}</dd>
</dl>
${frame.caller.scope === 'write' ? actions(base, frame.csrf, v) : html`<p class="muted">Your token has read scope: actions need a write token.</p>`}
<h2>Jobs</h2>${jobRows(base, v.jobs)}
<h2>Backups</h2>
${v.backups.length
  ? html`<table class="backups"><thead><tr><th>Taken</th><th>Kind</th><th class="num">Size</th><th class="num">Schema</th><th>File</th></tr></thead><tbody>${v.backups.map(
      (b) => html`<tr><td>${when(b.startedAt)}</td><td>${b.kind}</td><td class="num">${bytes(b.bytes)}</td><td class="num">${b.schemaVersion ?? '?'}</td><td><code>${fileName(b.file)}</code></td></tr>`,
    )}</tbody></table>`
  : html`<p class="muted">No backups yet.</p>`}
<h2>Audit</h2>
${v.audit === undefined
  ? html`<p class="muted">No audit log on this stack.</p>`
  : v.audit.length
    ? html`<table class="audit"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Result</th></tr></thead><tbody>${v.audit.map(
        (a) => html`<tr><td>${when(a.at)}</td><td>${a.who}</td><td>${a.what}</td><td>${stateBadge(a.result)}${a.error ? html` <span class="muted">${a.error}</span>` : ''}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">Nothing recorded yet.</p>`}`,
  );
}

/** Asked before an action that can lose data: the same form again, with confirm=yes. */
export function confirmPage(frame: Frame & { csrf: string }, name: string, act: string, fields: Record<string, string>, what: Html): string {
  const base = frame.base;
  return page(
    frame,
    html`<div class="confirm"><h1>${act === 'remove' ? 'Remove' : act === 'restore' ? 'Restore' : 'Deploy to'} ${name}?</h1>
<p>${what}</p>
<form method="post" action="${base}/tenants/${encodeURIComponent(name)}/${act}">
<input type="hidden" name="csrf" value="${frame.csrf}">
${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<input type="hidden" name="confirm" value="yes">
${act === 'remove' ? html`<p><label>Type the tenant's name to confirm: <input name="typed" autocomplete="off" required></label></p>` : ''}
<button type="submit" class="danger" data-confirm="${act}">Yes, ${act}</button>
<a href="${base}/tenants/${encodeURIComponent(name)}">Cancel</a>
</form></div>`,
  );
}
