/**
 * Webhooks against a real stack and real receivers (HTTP servers in this process): a
 * tenant created with the CLI reaches a receiver signed, and the README's verification
 * snippet, run as written, accepts it and refuses a tampered body, another secret and an
 * old timestamp. A receiver that is down: the operation finishes anyway, the delivery is
 * retried, and delivered when the receiver is back. The delivery log and the audit log
 * show it; neither holds the secret.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack } from '../helpers/stack.js';
import { webhookReceiver as receiver } from '../helpers/webhook-receiver.js';
import { root } from '../helpers/silo-home.js';
import { freePort } from '../../src/common/ports.js';
import { signatureHeader } from '../../src/events/signature.js';
import type { DeliveryRecord } from '../../src/events/deliver.js';

t.setTimeout(240_000);

/** The README's snippet, as written there, loaded as a module. */
async function readmeVerifier(t: { teardown(fn: () => void): void }): Promise<(secret: string, header: string, body: string, toleranceSeconds?: number) => boolean> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('export function verifySiloSignature'));
  if (!block) throw new Error('no verification snippet in the README');
  const dir = mkdtempSync(join(tmpdir(), 'silo-snippet-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'verify.mjs'), block);
  return (await import(pathToFileURL(join(dir, 'verify.mjs')).href)).verifySiloSignature;
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

const port = await freePort();
// The first retry after 1 s (then 2, 4, 8 ...): the scenario stays short.
const stack = await startStack(t, { env: { SILO_WEBHOOK_RETRY: '1s' } });
let live = await receiver(port);
t.teardown(() => live.close());

const added = await stack.cli(['webhook', 'add', `http://127.0.0.1:${port}/hooks/silo?key=query-secret`, '--events', 'tenant.created,tenant.suspended']);
t.equal(added.code, 0, added.stderr);
const secret = added.stdout.trim().split('\n').pop()!;
const hookId = /added webhook (wh_[0-9a-f]+)/.exec(added.stdout)?.[1];

t.test('add: the secret once, bad input refused in one line', async (t) => {
  t.match(secret, /^whsec_[A-Za-z0-9_-]{20,}$/, 'the secret alone on the last line');
  t.ok(hookId, 'an id');
  t.match(added.stdout, `for tenant.created, tenant.suspended: http://127.0.0.1:${port}/hooks/silo?***`, 'the query string is not shown');
  for (const [args, message] of [
    [['webhook', 'add', 'ftp://example.com/x'], 'silo: invalid webhook URL: ftp: is neither http: nor https:\n'],
    [['webhook', 'add', 'not a url'], 'silo: invalid webhook URL: use http://... or https://...\n'],
    [['webhook', 'add', 'http://127.0.0.1:1/', '--events', 'tenant.exploded'], /^silo: unknown event "tenant.exploded": choose from tenant.created, /],
    [['webhook', 'remove', 'wh_000000000000'], 'silo: no webhook "wh_000000000000" (silo webhook list)\n'],
  ] as const) {
    const r = await stack.cli([...args]);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
  }
  const list = await stack.cli(['webhook', 'list', '--json']);
  const hooks = JSON.parse(list.stdout) as { id: string; url: string; events: string[] }[];
  t.same(hooks.map((h) => [h.id, h.events]), [[hookId, ['tenant.created', 'tenant.suspended']]]);
  t.notOk(list.stdout.includes(secret) || list.stdout.includes('query-secret'), 'list shows neither the secret nor the query');
});

t.test('tenant.created reaches the receiver, signed; the README snippet verifies it and refuses forgeries and replays', async (t) => {
  const verify = await readmeVerifier(t);
  const created = await stack.cli(['tenant', 'create', 'acme']);
  t.equal(created.code, 0, created.stderr);
  const hit = await until('tenant.created at the receiver', 60_000, () => live.got.find((r) => r.headers['silo-event'] === 'tenant.created'));
  const event = JSON.parse(hit.body) as { id: string; type: string; createdAt: string; data: Record<string, unknown> };
  t.match(event, { id: /^evt_[0-9a-f]+$/, type: 'tenant.created', data: { tenant: 'acme', server: 'local', hosts: ['acme.localhost'], url: `http://acme.localhost:${stack.httpPort}/` } });
  t.match(hit.headers['content-type'], /application\/json/);
  t.match(hit.headers['silo-delivery'], /^dl_/);
  const header = String(hit.headers['silo-signature']);
  t.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);

  t.equal(verify(secret, header, hit.body), true, 'the signature verifies');
  t.equal(verify(secret, header, hit.body.replace('acme', 'acmf')), false, 'a changed body does not');
  t.equal(verify('whsec_another', header, hit.body), false, 'another secret does not');
  const old = Math.floor(Date.now() / 1000) - 3600;
  t.equal(verify(secret, signatureHeader(secret, hit.body, old), hit.body), false, 'a correctly signed but hour-old request is refused (replay)');
  t.equal(verify(secret, signatureHeader(secret, hit.body, old + 3600 - 10), hit.body), true, 'one signed 10 s ago passes');
  t.equal(verify(secret, 'v1=00', hit.body), false, 'a header without a time is refused');
  t.notOk(JSON.stringify(event).includes('password'), 'no password in the event');
});

t.test('a receiver that is down: the operation finishes, the delivery is retried and arrives when it is back', async (t) => {
  await live.close();
  const started = performance.now();
  const r = await stack.cli(['tenant', 'suspend', 'acme']);
  const ms = performance.now() - started;
  t.equal(r.code, 0, r.stderr);
  t.comment(`figures: tenant suspend with its webhook's receiver down took ${Math.round(ms)} ms`);

  const deliveries = async () => JSON.parse((await stack.cli(['webhook', 'deliveries', '--json'])).stdout) as { log: DeliveryRecord[]; pending: { event: string; attempts: number }[] };
  // At least two failed attempts, the second after the back-off.
  const failing = await until('two failed attempts', 60_000, async () => {
    const d = await deliveries();
    const tries = d.log.filter((x) => x.event === 'tenant.suspended' && x.result === 'retrying');
    return tries.length >= 2 ? tries : undefined;
  });
  t.match(failing[0], { hook: hookId, attempt: 1, result: 'retrying', error: /ECONNREFUSED/ });
  t.ok(Date.parse(failing[1]!.at) - Date.parse(failing[0]!.at) >= 1000, 'the second attempt came after the back-off');
  t.match((await deliveries()).pending, [{ event: 'tenant.suspended' }], 'still pending');

  live = await receiver(port);
  const hit = await until('tenant.suspended once the receiver is back', 90_000, () => live.got.find((x) => x.headers['silo-event'] === 'tenant.suspended'));
  t.equal(JSON.parse(hit.body).data.tenant, 'acme');
  t.same(live.got.map((x) => x.headers['silo-event']), ['tenant.suspended'], 'sent once, nothing else');
  const done = await until('the delivered record', 30_000, async () => (await deliveries()).log.find((x) => x.event === 'tenant.suspended' && x.result === 'delivered'));
  t.ok(done.attempt >= 3, `delivered at attempt ${done.attempt}`);
  t.equal(done.status, 204);
  t.same((await deliveries()).pending, [], 'nothing pending');

  const table = (await stack.cli(['webhook', 'deliveries'])).stdout;
  t.match(table, /^AT\s+HOOK\s+EVENT\s+ATTEMPT\s+RESULT\s+DETAIL/);
  t.match(table, /tenant\.suspended\s+\d+\s+delivered\s+HTTP 204/);
});

t.test('the audit log records webhook add, without secret nor URL path; remove stops deliveries', async (t) => {
  const removed = await stack.cli(['webhook', 'remove', hookId!]);
  t.same([removed.code, removed.stdout], [0, `removed webhook ${hookId} (http://127.0.0.1:${port}/hooks/silo?***)\n`]);
  t.equal((await stack.cli(['tenant', 'resume', 'acme'])).code, 0);
  const audit = JSON.parse((await stack.cli(['audit', '--json'])).stdout) as { what: string; target?: string; result: string; details?: Record<string, unknown> }[];
  t.match(
    audit.filter((e) => e.what.startsWith('webhook.')),
    [
      { what: 'webhook.add', target: hookId, result: 'ok', details: { host: `127.0.0.1:${port}`, events: ['tenant.created', 'tenant.suspended'] } },
      { what: 'webhook.add', result: 'error' },
      { what: 'webhook.add', result: 'error' },
      { what: 'webhook.add', result: 'error' },
      { what: 'webhook.remove', target: 'wh_000000000000', result: 'error' },
      { what: 'webhook.remove', target: hookId, result: 'ok' },
    ],
  );
  const raw = readFileSync(join(stack.home, 'events', 'audit.log'), 'utf8') + readFileSync(join(stack.home, 'events', 'deliveries.log'), 'utf8');
  t.notOk(raw.includes(secret), 'the secret is in neither log');
  t.notOk(raw.includes('query-secret') || raw.includes('/hooks/silo'), 'nor the URL beyond its host');
  const list = await stack.cli(['webhook', 'list']);
  t.equal(list.stdout, 'no webhooks: silo webhook add <url>\n');
  const removedTenant = await stack.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(removedTenant.code, 0, removedTenant.stderr);
});
