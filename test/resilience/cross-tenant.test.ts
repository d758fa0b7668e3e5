/**
 * Scenario 1, cross-tenant: thousands of requests through the proxy over keep-alive
 * loops and raw sockets, with real hosts and every spoofed variant we could think of.
 * Each answer carries the data of the tenant its Host names (as the proxy normalises it;
 * for an absolute-URI request line, the URI's host, per RFC 9112 3.2.2), or is a 4xx
 * carrying no tenant data. Not one answer may carry another tenant's data. The same
 * spoofs sent straight to a worker get 421 (400 for a duplicate Host).
 */
import t from 'tap';
import { Agent } from 'node:http';
import { startStack } from '../helpers/stack.js';
import { knownData, loops, printFigures, raw, send, tenantsIn, type TenantData } from '../helpers/resilience.js';

t.setTimeout(170_000);

const stack = await startStack(t);
const P = stack.httpPort;

// A third tenant with a custom domain, and a poll of its own so its data is recognisable.
const created = await stack.cli(['tenant', 'create', 'client3', '--domain', 'shop.example.test']);
if (created.code !== 0) throw new Error(created.stderr);
const poll = await send(stack.workerSocket('client3'), 'client3.localhost', '/api/polls', {
  method: 'POST',
  body: JSON.stringify({ question: 'Which colour for the client3 shop?', choices: ['Red', 'Blue'] }),
});
if (poll.status !== 201) throw new Error(`client3 poll: ${poll.status} ${poll.text}`);

const TENANTS = ['client1', 'client2', 'client3'];
const data: TenantData[] = await knownData(stack, TENANTS);
const PATHS = ['/api/tenant', '/api/polls', '/'];

/** A request through Node's client: Host (and extra headers), and whose data may come back. */
interface Variant {
  name: string;
  host: string;
  headers?: Record<string, string>;
  owner: string | null; // null: no tenant owns it, only a 4xx is right
  legit?: boolean; // a real host: anything but 200 is a failure
}

const viaClient: Variant[] = [
  { name: 'real client1', host: 'client1.localhost', owner: 'client1', legit: true },
  { name: 'real client2 with port', host: `client2.localhost:${P}`, owner: 'client2', legit: true },
  { name: 'real client3 custom domain', host: 'shop.example.test', owner: 'client3', legit: true },
  { name: 'suffix', host: 'client2.localhost.evil', owner: null },
  { name: 'prefix', host: 'xclient2.localhost', owner: null },
  { name: 'subdomain of a tenant', host: 'evil.client2.localhost', owner: null },
  { name: 'tenant name glued', host: 'client2.localhostx', owner: null },
  { name: 'custom domain suffix', host: 'shop.example.test.evil', owner: null },
  { name: 'custom domain prefix', host: 'xshop.example.test', owner: null },
  { name: 'upper case', host: 'CLIENT2.LOCALHOST', owner: 'client2' },
  { name: 'mixed case with port', host: `Client1.LocalHost:${P}`, owner: 'client1' },
  { name: 'another port', host: 'client2.localhost:1', owner: 'client2' },
  { name: 'trailing dot', host: 'client2.localhost.', owner: 'client2' },
  { name: 'trailing dot and port', host: `client1.localhost.:${P}`, owner: 'client1' },
  { name: 'two trailing dots', host: 'client2.localhost..', owner: null },
  { name: 'upper-case custom domain', host: 'SHOP.EXAMPLE.TEST', owner: 'client3' },
  { name: 'IP', host: '127.0.0.1', owner: null },
  { name: 'IP with port', host: `127.0.0.1:${P}`, owner: null },
  { name: 'IPv6', host: '[::1]', owner: null },
  { name: 'bare domain', host: 'localhost', owner: null },
  { name: 'userinfo', host: 'client1.localhost@client2.localhost', owner: null },
  { name: 'empty port', host: 'client2.localhost:', owner: 'client2' },
  { name: 'X-Forwarded-Host names another tenant', host: 'client1.localhost', headers: { 'x-forwarded-host': 'client2.localhost' }, owner: 'client1' },
  { name: 'Forwarded names another tenant', host: 'client1.localhost', headers: { forwarded: 'host=client2.localhost;proto=http' }, owner: 'client1' },
  { name: 'X-Original-Host / X-Host', host: 'client2.localhost', headers: { 'x-original-host': 'client1.localhost', 'x-host': 'client1.localhost' }, owner: 'client2' },
  { name: 'unknown host, X-Forwarded-Host of a tenant', host: 'nobody.localhost', headers: { 'x-forwarded-host': 'client1.localhost' }, owner: null },
  { name: 'IP, X-Forwarded-Host of a tenant', host: '127.0.0.1', headers: { 'x-forwarded-host': 'client2.localhost', 'x-forwarded-for': '127.0.0.1' }, owner: null },
];

/** A request written over a raw socket, for what Node's client will not send. */
interface RawVariant {
  name: string;
  request: (path: string) => string;
  owner: string | null;
}

const rawVariants: RawVariant[] = [
  { name: 'empty Host', request: (p) => `GET ${p} HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'no Host, HTTP/1.1', request: (p) => `GET ${p} HTTP/1.1\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'no Host, HTTP/1.0', request: (p) => `GET ${p} HTTP/1.0\r\n\r\n`, owner: null },
  { name: 'two Host headers', request: (p) => `GET ${p} HTTP/1.1\r\nHost: client1.localhost\r\nHost: client2.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'two Host headers, unknown first', request: (p) => `GET ${p} HTTP/1.1\r\nHost: nobody.localhost\r\nHost: client2.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'absolute URI names another tenant', request: (p) => `GET http://client2.localhost${p} HTTP/1.1\r\nHost: client1.localhost\r\nConnection: close\r\n\r\n`, owner: 'client2' },
  { name: 'absolute URI with port', request: (p) => `GET http://client1.localhost:${P}${p} HTTP/1.1\r\nHost: client2.localhost\r\nConnection: close\r\n\r\n`, owner: 'client1' },
  { name: 'absolute URI, upper case', request: (p) => `GET http://CLIENT3.LOCALHOST${p} HTTP/1.1\r\nHost: client1.localhost\r\nConnection: close\r\n\r\n`, owner: 'client3' },
  { name: 'absolute URI names an unknown host', request: (p) => `GET http://evil.test${p} HTTP/1.1\r\nHost: client1.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'absolute URI with userinfo', request: (p) => `GET http://client1.localhost@client2.localhost${p} HTTP/1.1\r\nHost: client1.localhost\r\nConnection: close\r\n\r\n`, owner: 'client2' },
  { name: 'Host with spaces around', request: (p) => `GET ${p} HTTP/1.1\r\nHost:   client2.localhost  \r\nConnection: close\r\n\r\n`, owner: 'client2' },
  { name: 'Host folded over two lines', request: (p) => `GET ${p} HTTP/1.1\r\nHost: client1.localhost\r\n client2.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'Host with a NUL', request: (p) => `GET ${p} HTTP/1.1\r\nHost: client1.localhost\0.client2.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'Host with a space inside', request: (p) => `GET ${p} HTTP/1.1\r\nHost: client1.localhost client2.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'Host with a comma', request: (p) => `GET ${p} HTTP/1.1\r\nHost: client1.localhost,client2.localhost\r\nConnection: close\r\n\r\n`, owner: null },
  { name: 'Host with a huge port', request: (p) => `GET ${p} HTTP/1.1\r\nHost: client2.localhost:99999\r\nConnection: close\r\n\r\n`, owner: 'client2' },
  { name: 'HTTP/1.0 with Host', request: (p) => `GET ${p} HTTP/1.0\r\nHost: client2.localhost\r\n\r\n`, owner: 'client2' },
];

interface Tally {
  sent: number;
  ok: number;
  refused4xx: number;
  failed: number;
  wrong: number;
  problems: string[];
  byVariant: Map<string, Record<string, number>>;
}
const tally: Tally = { sent: 0, ok: 0, refused4xx: 0, failed: 0, wrong: 0, problems: [], byVariant: new Map() };

function judge(name: string, owner: string | null, legit: boolean, status: number, body: string, error?: string): void {
  tally.sent++;
  const counts = tally.byVariant.get(name) ?? {};
  counts[status] = (counts[status] ?? 0) + 1;
  tally.byVariant.set(name, counts);
  const found = tenantsIn(body, data);
  const note = (kind: 'failed' | 'wrong', why: string) => {
    tally[kind]++;
    if (tally.problems.length < 30) tally.problems.push(`${kind}: ${name}: ${why}`);
  };
  if (status >= 400 && status < 500) {
    if (found.length) return note('wrong', `HTTP ${status} carrying data of ${found.join(',')}: ${body.slice(0, 100)}`);
    if (legit) return note('failed', `HTTP ${status} for a real host: ${body.slice(0, 100)}`);
    tally.refused4xx++;
    return;
  }
  if (status === 200) {
    if (owner === null) return note('wrong', `HTTP 200 for a host no tenant owns, carrying ${found.join(',') || 'nothing recognisable'}: ${body.slice(0, 100)}`);
    if (found.length !== 1 || found[0] !== owner) return note('wrong', `expected ${owner}'s data, got ${found.join(',') || 'none'}: ${body.slice(0, 100)}`);
    tally.ok++;
    return;
  }
  note('failed', error ?? `HTTP ${status}: ${body.slice(0, 100)}`);
}

await t.test('through the proxy: real and spoofed hosts, no answer carries another tenant', async (t) => {
  const TARGET = 6000;
  const start = performance.now();
  const over = () => tally.sent >= TARGET || performance.now() - start > 60_000;
  const agents = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  let n = 0;
  const clientLoops = loops(
    4,
    async (i) => {
      const k = n++;
      const v = viaClient[k % viaClient.length]!;
      const path = PATHS[Math.floor(k / viaClient.length) % PATHS.length]!;
      const a = await send(P, v.host, path, { agent: agents[i], headers: v.headers, timeoutMs: 15_000 });
      judge(v.name, v.owner, v.legit ?? false, a.status, a.text, a.error);
    },
    over,
  );
  let m = 0;
  const rawLoops = loops(
    2,
    async () => {
      const k = m++;
      const v = rawVariants[k % rawVariants.length]!;
      const path = PATHS[Math.floor(k / rawVariants.length) % PATHS.length]!;
      const a = await raw(P, v.request(path), { timeoutMs: 15_000 });
      judge(v.name, v.owner, false, a.status, a.body, a.timedOut ? 'no answer within 15 s' : a.status === 0 ? 'closed without an answer' : undefined);
    },
    over,
  );
  await Promise.all([clientLoops.done, rawLoops.done]);
  for (const a of agents) a.destroy();
  const ms = performance.now() - start;

  for (const [name, counts] of tally.byVariant) t.comment(`${name}: ${JSON.stringify(counts)}`);
  printFigures(t, 'cross-tenant-proxy', {
    sent: tally.sent,
    failed: tally.failed,
    wrongTenant: tally.wrong,
    served: tally.ok,
    refused4xx: tally.refused4xx,
    variants: viaClient.length + rawVariants.length,
    reqPerS: (tally.sent / ms) * 1000,
  });
  t.ok(tally.sent >= 5000, `at least 5,000 requests (${tally.sent})`);
  t.equal(tally.wrong, 0, `no answer carries another tenant's data: ${tally.problems.join(' | ')}`);
  t.equal(tally.failed, 0, `every answer is the right tenant's data or a 4xx: ${tally.problems.join(' | ')}`);
  // Every variant was exercised through each path, and the spoofs really were refused.
  for (const v of [...viaClient, ...rawVariants]) t.ok(tally.byVariant.has(v.name), `${v.name} was sent`);
  for (const v of [...viaClient, ...rawVariants].filter((v) => v.owner === null)) {
    const counts = tally.byVariant.get(v.name) ?? {};
    t.notOk(counts['200'], `${v.name}: never 200`);
  }
});

await t.test('straight to a worker: every spoof gets 421 (400 for a duplicate Host)', async (t) => {
  let sent = 0;
  let wrong = 0;
  let failed = 0;
  const problems: string[] = [];
  const expectStatus = (what: string, got: number, want: number[], body: string, self: string) => {
    sent++;
    const found = tenantsIn(body, data);
    if (found.length && !(got === 200 && found.length === 1 && found[0] === self)) {
      wrong++;
      problems.push(`${what}: HTTP ${got} carrying ${found.join(',')}`);
    } else if (!want.includes(got)) {
      failed++;
      problems.push(`${what}: HTTP ${got}, want ${want.join('/')}: ${body.slice(0, 100)}`);
    }
  };
  for (const self of TENANTS) {
    const port = stack.workerSocket(self);
    const others = TENANTS.filter((x) => x !== self);
    const other = others[0]!;
    const ownHost = `${self}.localhost`;
    for (const path of PATHS) {
      // Through Node's client.
      const spoofHosts = [
        `${other}.localhost`,
        `${other}.localhost:4100`,
        `${other.toUpperCase()}.LOCALHOST`,
        `${other}.localhost.`,
        `${self}.localhost.evil`,
        `x${self}.localhost`,
        `evil.${self}.localhost`,
        `${self}.localhost..`,
        `${self}.localhost:x`,
        '127.0.0.1',
        `127.0.0.1:4100`,
        '[::1]',
        'localhost',
        'shop.example.test.evil',
        ...(self === 'client3' ? [] : ['shop.example.test']),
      ];
      for (const host of spoofHosts) {
        const a = await send(port, host, path);
        expectStatus(`${self} <- Host ${host} ${path}`, a.status, [421], a.text, self);
      }
      const xfh = await send(port, `${other}.localhost`, path, { headers: { 'x-forwarded-host': ownHost, forwarded: `host=${ownHost}` } });
      expectStatus(`${self} <- Host ${other}, X-Forwarded-Host ${self} ${path}`, xfh.status, [421], xfh.text, self);
      const own = await send(port, ownHost.toUpperCase() + '.', path, { headers: { 'x-forwarded-host': `${other}.localhost` } });
      expectStatus(`${self} <- its own Host (upper case, trailing dot), X-Forwarded-Host ${other} ${path}`, own.status, [200], own.text, self);
      // Over a raw socket.
      const rawCases: [string, string, number[]][] = [
        ['empty Host', `GET ${path} HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n`, [421]],
        ['no Host, HTTP/1.1', `GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`, [400, 421]],
        ['no Host, HTTP/1.0', `GET ${path} HTTP/1.0\r\n\r\n`, [421]],
        ['two Host headers, own first', `GET ${path} HTTP/1.1\r\nHost: ${ownHost}\r\nHost: ${other}.localhost\r\nConnection: close\r\n\r\n`, [400]],
        ['two Host headers, own second', `GET ${path} HTTP/1.1\r\nHost: ${other}.localhost\r\nHost: ${ownHost}\r\nConnection: close\r\n\r\n`, [400]],
        ['two identical Host headers', `GET ${path} HTTP/1.1\r\nHost: ${ownHost}\r\nHost: ${ownHost}\r\nConnection: close\r\n\r\n`, [400]],
        ['absolute URI names another tenant', `GET http://${other}.localhost${path} HTTP/1.1\r\nHost: ${ownHost}\r\nConnection: close\r\n\r\n`, [421]],
        ['absolute URI names an unknown host', `GET http://evil.test${path} HTTP/1.1\r\nHost: ${ownHost}\r\nConnection: close\r\n\r\n`, [421]],
        ['absolute URI with userinfo', `GET http://${ownHost}@${other}.localhost${path} HTTP/1.1\r\nHost: ${ownHost}\r\nConnection: close\r\n\r\n`, [400, 421]],
        ['absolute URI names itself', `GET http://${ownHost}:4100${path} HTTP/1.1\r\nHost: ${ownHost}\r\nConnection: close\r\n\r\n`, [200]],
        ['Host with a space inside', `GET ${path} HTTP/1.1\r\nHost: ${ownHost} ${other}.localhost\r\nConnection: close\r\n\r\n`, [400, 421]],
        ['Host with a comma', `GET ${path} HTTP/1.1\r\nHost: ${ownHost},${other}.localhost\r\nConnection: close\r\n\r\n`, [400, 421]],
        ['Host folded', `GET ${path} HTTP/1.1\r\nHost: ${other}.localhost\r\n ${ownHost}\r\nConnection: close\r\n\r\n`, [400, 421]],
      ];
      for (const [what, req, want] of rawCases) {
        const a = await raw(port, req, { timeoutMs: 10_000 });
        expectStatus(`${self} <- ${what} ${path}`, a.status, want, a.body, self);
      }
    }
  }
  printFigures(t, 'cross-tenant-direct', { sent, failed, wrongTenant: wrong });
  t.equal(wrong, 0, `no spoof gets tenant data from a worker: ${problems.join(' | ')}`);
  t.equal(failed, 0, `each spoof gets its status: ${problems.join(' | ')}`);
});
