/** `silo audit`: who did what to which tenant, server or webhook, and how it ended; `silo webhook ...`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { readAudit } from '../../events/audit.js';
import { validateTenantName } from '../../common/names.js';
import { printJson, printLine, printTable } from '../output.js';
import { EVENTS, addWebhook, listWebhooks, removeWebhook, shownUrl } from '../../events/webhooks.js';
import { pendingDeliveries } from '../../events/outbox.js';
import { readDeliveries } from '../../events/deliver.js';
import { group } from './group.js';

export function register(program: Command, config: () => SiloConfig): void {
  registerWebhooks(program, config);
  program
    .command('audit')
    .description('the audit log: every state-changing operation, who ran it, on what, when, and how it ended')
    .option('--tenant <name>', "only the operations on this tenant")
    .option('--json', 'machine-readable output')
    .action((opts: { tenant?: string; json?: boolean }) => {
      if (opts.tenant !== undefined) validateTenantName(opts.tenant);
      const entries = readAudit(config().home, { tenant: opts.tenant });
      if (opts.json) return printJson(entries);
      if (entries.length === 0) return printLine(opts.tenant ? `nothing recorded about tenant ${opts.tenant}` : 'nothing recorded yet');
      printTable(
        entries.map((e) => ({ ...e, at: e.at.slice(0, 19).replace('T', ' '), result: e.result === 'ok' ? 'ok' : `error: ${e.error ?? ''}` })),
        ['at', 'who', 'what', 'target', 'result'],
      );
    });
}

/** `silo webhook add | list | remove | deliveries`. */
export function registerWebhooks(program: Command, config: () => SiloConfig): void {
  const webhook = group(program, 'webhook', 'HTTP callbacks on tenant and fleet events, signed, retried');

  webhook
    .command('add <url>')
    .description(`call <url> on events (default: all of them: ${EVENTS.join(', ')}); prints the signing secret once`)
    .option('--events <names>', 'a comma-separated list of events')
    .action(async (url: string, opts: { events?: string }) => {
      const events = opts.events?.split(',').map((e) => e.trim()).filter(Boolean);
      const { hook, secret } = await addWebhook(config(), url, events);
      printLine(`added webhook ${hook.id} for ${hook.events.includes('*') ? 'every event' : hook.events.join(', ')}: ${shownUrl(hook.url)}`);
      printLine('its signing secret, shown this once (verify Silo-Signature with it; see the README):');
      printLine(secret);
    });

  webhook
    .command('list')
    .description('the webhooks and the events each receives')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const pending = pendingDeliveries(config().home);
      const rows = listWebhooks(config().home).map((h) => ({ id: h.id, url: shownUrl(h.url), events: h.events, createdAt: h.createdAt, pending: pending.filter((d) => d.hook === h.id).length }));
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return printLine('no webhooks: silo webhook add <url>');
      printTable(rows.map((r) => ({ ...r, events: r.events.includes('*') ? 'all' : r.events.join(',') })), ['id', 'url', 'events', 'pending']);
    });

  webhook
    .command('remove <id>')
    .description('stop calling a webhook (its pending deliveries are dropped)')
    .action(async (id: string) => {
      const gone = await removeWebhook(config(), id);
      printLine(`removed webhook ${gone.id} (${shownUrl(gone.url)})`);
    });

  webhook
    .command('deliveries')
    .description('the delivery log: every attempt (delivered, retrying, failed, dropped), then what is still pending')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const home = config().home;
      const log = readDeliveries(home);
      const pending = pendingDeliveries(home).map((d) => ({ delivery: d.id, hook: d.hook, event: d.type, eventId: d.eventId, attempts: d.attempts, next: new Date(d.due).toISOString(), lastError: d.lastError }));
      if (opts.json) return printJson({ log, pending });
      if (log.length === 0 && pending.length === 0) return printLine('no deliveries yet');
      printTable(
        log.map((r) => ({ ...r, at: r.at.slice(0, 19).replace('T', ' '), detail: [r.status ? `HTTP ${r.status}` : '', r.result !== 'delivered' ? r.error : '', r.next ? `next ${r.next.slice(11, 19)}` : ''].filter(Boolean).join('; ') })),
        ['at', 'hook', 'event', 'attempt', 'result', 'detail'],
      );
      if (pending.length) printLine(`pending: ${pending.length} (${pending.slice(0, 5).map((p) => `${p.event} to ${p.hook}, next ${p.next.slice(11, 19)}`).join('; ')}${pending.length > 5 ? '; ...' : ''})`);
    });
}
