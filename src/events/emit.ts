/**
 * `emit(cfg, event, data)`: tell the webhooks that want `event`. It only writes one
 * outbox file per such hook (outbox.ts) and returns; the `events` app of the stack
 * delivers them (deliver.ts). So a receiver that is down, slow or failing never blocks
 * nor fails the operation that emitted, and an operation never waits for the network;
 * even a failure to write the file is only said on stderr.
 *
 * The body: `{"id": "evt_...", "type": "tenant.created", "createdAt": "...", "data": {...}}`.
 * `data` holds names and facts, never a secret (an error in it is scrubbed like the audit log's).
 */
import { randomBytes } from 'node:crypto';
import type { SiloConfig } from '../common/config.js';
import { scrubSecrets } from './audit.js';
import { putDelivery } from './outbox.js';
import { listWebhooks, wants, type EventName } from './webhooks.js';

export type EventData = Record<string, string | number | boolean | string[] | undefined>;

/** Queue `event` for every hook that wants it; returns the event's id (undefined: no hook wants it). */
export function emit(cfg: Pick<SiloConfig, 'home'>, event: EventName, data: EventData): string | undefined {
  try {
    const hooks = listWebhooks(cfg.home).filter((h) => wants(h, event));
    if (hooks.length === 0) return undefined;
    const now = new Date();
    const eventId = `evt_${randomBytes(10).toString('hex')}`;
    const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'string' ? scrubSecrets(v).slice(0, 1000) : v]));
    const body = JSON.stringify({ id: eventId, type: event, createdAt: now.toISOString(), data: clean });
    for (const hook of hooks) {
      putDelivery(cfg.home, { id: `dl_${now.getTime().toString(36)}_${randomBytes(6).toString('hex')}`, hook: hook.id, type: event, eventId, body, attempts: 0, due: now.getTime(), createdAt: now.toISOString() });
    }
    return eventId;
  } catch (err) {
    process.stderr.write(`silo: could not queue the ${event} webhook: ${(err as Error).message}\n`);
    return undefined;
  }
}
