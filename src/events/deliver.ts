/**
 * Delivering the outbox (outbox.ts), as the `events` app runs it (deliver-main.ts): each
 * due delivery is POSTed to its hook's URL, signed (signature.ts) at the attempt. A 2xx
 * answer is delivered and the file goes; anything else (a refused connection, a timeout,
 * a redirect, a 500) is retried after SILO_WEBHOOK_RETRY, doubling each time, at most an
 * hour apart, until SILO_WEBHOOK_ATTEMPTS attempts: then it is given up. A hook removed
 * meanwhile drops its deliveries. Every attempt is one line in the delivery log
 * (`$SILO_HOME/events/deliveries.log`, append-log.ts), which `silo webhook deliveries` shows.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { parseDuration } from '../common/duration.js';
import { logRotation } from '../common/log-rotation.js';
import { appendRecord, readRecords } from './append-log.js';
import { scrubSecrets } from './audit.js';
import { dropDelivery, pendingDeliveries, putDelivery, type Delivery } from './outbox.js';
import { signatureHeader } from './signature.js';
import { listWebhooks, webhookSecret, type Webhook } from './webhooks.js';

export type DeliveryConfig = Pick<SiloConfig, 'home' | 'logMax' | 'logFiles' | 'webhookRetry' | 'webhookAttempts' | 'webhookTimeout'>;

export interface DeliveryRecord {
  at: string;
  delivery: string;
  hook: string;
  /** the host of the hook's URL (its path and query can be credentials) */
  host?: string;
  event: string;
  eventId: string;
  attempt: number;
  result: 'delivered' | 'retrying' | 'failed' | 'dropped';
  /** the receiver's HTTP status, if it answered */
  status?: number;
  error?: string;
  ms?: number;
  /** retrying: when the next attempt is due */
  next?: string;
}

const MAX_INTERVAL_MS = 3_600_000;

/** The wait after the `attempts`-th failed attempt: the first retry delay, doubled each time, at most an hour. */
export function retryDelay(cfg: Pick<DeliveryConfig, 'webhookRetry'>, attempts: number): number {
  return Math.min(MAX_INTERVAL_MS, parseDuration(cfg.webhookRetry) * 2 ** Math.max(0, attempts - 1));
}

async function post(cfg: DeliveryConfig, hook: Webhook, d: Delivery, secret: string): Promise<{ status?: number; error?: string }> {
  try {
    const res = await fetch(hook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'silo-webhooks',
        'silo-event': d.type,
        'silo-delivery': d.id,
        'silo-signature': signatureHeader(secret, d.body),
      },
      body: d.body,
      // A redirect is not followed: the receiver is the URL the operator gave.
      redirect: 'manual',
      signal: AbortSignal.timeout(parseDuration(cfg.webhookTimeout)),
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? { status: res.status } : { status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${cfg.webhookTimeout}` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { error: scrubSecrets(String(why)).slice(0, 300) };
  }
}

/** Make one attempt at `d`, then record it and keep, reschedule or drop its file. */
export async function attempt(cfg: DeliveryConfig, d: Delivery, hooks: Webhook[]): Promise<DeliveryRecord> {
  const hook = hooks.find((h) => h.id === d.hook);
  const secret = hook && webhookSecret(cfg.home, hook.id);
  const base = { delivery: d.id, hook: d.hook, event: d.type, eventId: d.eventId };
  let record: DeliveryRecord;
  if (!hook || !secret) {
    record = { at: new Date().toISOString(), ...base, attempt: d.attempts, result: 'dropped', error: 'the webhook was removed' };
    dropDelivery(cfg.home, d.id);
  } else {
    const started = performance.now();
    const r = await post(cfg, hook, d, secret);
    const n = d.attempts + 1;
    const common = { at: new Date().toISOString(), ...base, host: new URL(hook.url).host, attempt: n, ...(r.status ? { status: r.status } : {}), ms: Math.round(performance.now() - started) };
    if (!r.error) {
      record = { ...common, result: 'delivered' };
      dropDelivery(cfg.home, d.id);
    } else if (n >= cfg.webhookAttempts) {
      record = { ...common, result: 'failed', error: `${r.error}; gave up after ${n} attempts` };
      dropDelivery(cfg.home, d.id);
    } else {
      const due = Date.now() + retryDelay(cfg, n);
      putDelivery(cfg.home, { ...d, attempts: n, due, lastError: r.error });
      record = { ...common, result: 'retrying', error: r.error, next: new Date(due).toISOString() };
    }
  }
  await appendRecord(homePaths(cfg.home).deliveries, record as unknown as Record<string, unknown>, logRotation(cfg));
  return record;
}

/**
 * A deliverer: `run()` attempts every due delivery not already in flight (at most
 * `parallel` at once, the rest next time) and resolves when those it started are done.
 */
export function createDeliverer(cfg: DeliveryConfig, opts: { parallel?: number; onRecord?: (r: DeliveryRecord) => void } = {}) {
  const inFlight = new Set<string>();
  const parallel = opts.parallel ?? 8;
  return {
    inFlight: () => inFlight.size,
    async run(): Promise<void> {
      const now = Date.now();
      const due = pendingDeliveries(cfg.home).filter((d) => d.due <= now && !inFlight.has(d.id));
      if (due.length === 0) return;
      const hooks = listWebhooks(cfg.home);
      const started = due.slice(0, Math.max(0, parallel - inFlight.size));
      await Promise.all(
        started.map(async (d) => {
          inFlight.add(d.id);
          try {
            const record = await attempt(cfg, d, hooks); // (not inside ?.(): it would not run without onRecord)
            opts.onRecord?.(record);
          } catch (err) {
            opts.onRecord?.({ at: new Date().toISOString(), delivery: d.id, hook: d.hook, event: d.type, eventId: d.eventId, attempt: d.attempts, result: 'retrying', error: `could not attempt: ${(err as Error).message}` });
          } finally {
            inFlight.delete(d.id);
          }
        }),
      );
    },
  };
}

/** The delivery log, oldest first. */
export function readDeliveries(home: string): DeliveryRecord[] {
  return readRecords<DeliveryRecord>(homePaths(home).deliveries);
}
