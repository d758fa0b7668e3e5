/**
 * The deliverer in-process, against real HTTP receivers: the back-off schedule, giving up
 * after SILO_WEBHOOK_ATTEMPTS, a redirect counted as a failure, a removed hook dropping
 * its deliveries, and emit() never failing its caller. No stack: a throwaway SILO_HOME.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homePaths } from '../../src/common/paths.js';
import { addWebhook, removeWebhook } from '../../src/events/webhooks.js';
import { emit } from '../../src/events/emit.js';
import { createDeliverer, readDeliveries, retryDelay, type DeliveryConfig } from '../../src/events/deliver.js';
import { pendingDeliveries } from '../../src/events/outbox.js';

function home(t: { teardown(fn: () => void): void }): DeliveryConfig {
  const dir = mkdtempSync(join(tmpdir(), 'silo-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { home: dir, logMax: '10M', logFiles: 2, webhookRetry: '1ms', webhookAttempts: 3, webhookTimeout: '5s' };
}

async function serve(t: { teardown(fn: () => unknown): void }, status: number, headers: Record<string, string> = {}): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(status, headers).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, hits: () => hits };
}

/** Run rounds until the outbox is empty (each retry is due 1-4 ms later), or 60 s went by. */
async function drain(cfg: DeliveryConfig): Promise<void> {
  const d = createDeliverer(cfg);
  const started = performance.now();
  while (pendingDeliveries(cfg.home).length && performance.now() - started < 60_000) {
    await d.run();
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('back-off: the first retry delay, doubling, at most an hour apart', async (t) => {
  const cfg = { webhookRetry: '10s' };
  t.same([1, 2, 3, 4, 9, 10, 12].map((n) => retryDelay(cfg, n)), [10_000, 20_000, 40_000, 80_000, 2_560_000, 3_600_000, 3_600_000]);
  const total = Array.from({ length: 11 }, (_, i) => retryDelay(cfg, i + 1)).reduce((a, b) => a + b, 0);
  t.comment(`figures: with the defaults (10s, 12 attempts) a delivery is given up ${(total / 3_600_000).toFixed(1)} h after its first attempt`);
});

t.test('a receiver answering 500 is tried SILO_WEBHOOK_ATTEMPTS times, then given up', async (t) => {
  const cfg = home(t);
  const r = await serve(t, 500);
  await addWebhook(cfg, r.url);
  t.ok(emit(cfg, 'backup.failed', { tenant: 'acme', kind: 'scheduled', error: 'pg_dump failed: postgres://admin:hunter2@db/x' }));
  t.equal(pendingDeliveries(cfg.home).length, 1);
  t.notOk(pendingDeliveries(cfg.home)[0]!.body.includes('hunter2'), 'a password in an error is masked in the event');
  t.equal(statSync(homePaths(cfg.home).outbox).mode & 0o777, 0o700, 'the outbox is 0700');
  await drain(cfg);
  t.equal(r.hits(), 3, 'three attempts');
  t.same(
    readDeliveries(cfg.home).map((d) => [d.attempt, d.result, d.status]),
    [
      [1, 'retrying', 500],
      [2, 'retrying', 500],
      [3, 'failed', 500],
    ],
  );
  t.match(readDeliveries(cfg.home)[2]!.error, 'HTTP 500; gave up after 3 attempts');
  t.same(pendingDeliveries(cfg.home), [], 'nothing left in the outbox');
});

t.test('a redirect is a failure, a 2xx is delivered at once, a hook that wants other events gets nothing', async (t) => {
  const cfg = home(t);
  const moved = await serve(t, 302, { location: 'http://127.0.0.1:1/' });
  const ok = await serve(t, 200);
  const other = await serve(t, 200);
  await addWebhook(cfg, moved.url, ['tenant.created']);
  await addWebhook(cfg, ok.url, ['tenant.created']);
  await addWebhook(cfg, other.url, ['tenant.removed']);
  emit(cfg, 'tenant.created', { tenant: 'acme' });
  await drain(cfg);
  t.same([moved.hits(), ok.hits(), other.hits()], [3, 1, 0]);
  const log = readDeliveries(cfg.home);
  t.equal(log.filter((d) => d.result === 'delivered').length, 1);
  t.equal(log.filter((d) => d.result === 'failed' && d.status === 302).length, 1);
});

t.test('removing a hook drops what it had pending', async (t) => {
  const cfg = home(t);
  const r = await serve(t, 200);
  const { hook } = await addWebhook(cfg, r.url);
  emit(cfg, 'tenant.suspended', { tenant: 'acme', by: 'operator' });
  await removeWebhook(cfg, hook.id);
  t.notOk(existsSync(homePaths(cfg.home).webhookSecret(hook.id)), 'its secret is gone');
  await drain(cfg);
  t.equal(r.hits(), 0);
  t.match(readDeliveries(cfg.home), [{ result: 'dropped', error: 'the webhook was removed' }]);
});

t.test('emit never fails its caller, and queues nothing without hooks', async (t) => {
  const cfg = home(t);
  t.equal(emit(cfg, 'tenant.created', { tenant: 'acme' }), undefined, 'no hooks: nothing queued');
  t.notOk(existsSync(homePaths(cfg.home).outbox));
  await addWebhook(cfg, 'http://127.0.0.1:1/');
  writeFileSync(homePaths(cfg.home).outbox, 'not a folder');
  t.doesNotThrow(() => emit(cfg, 'tenant.created', { tenant: 'acme' }), 'an outbox it cannot write is said on stderr, not thrown');
});
