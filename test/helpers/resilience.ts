/**
 * Shared pieces of the resilience suite: the figures line every scenario prints, raw
 * HTTP over a socket (for requests Node's client refuses to send), keep-alive request
 * loops, knowing which tenant a body belongs to, `silo status`, row counts straight from
 * each tenant database, the pm2 CLI, and a TCP forwarder that can black-hole a database.
 */
import { Agent, request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import type { Stack } from './stack.js';
import { root } from './silo-home.js';
import { urlOptions } from './postgres.js';
import type { StackStatus } from '../../src/stack/status.js';

// ---------------------------------------------------------------------------------------
// Figures

export interface Figures {
  sent: number;
  failed: number;
  wrongTenant: number;
  [extra: string]: number | string;
}

/** `# figures: scenario=<name> sent=N failed=N wrongTenant=N <extra>=...` (one line, greppable). */
export function printFigures(t: { comment(...a: unknown[]): void }, scenario: string, f: Figures): string {
  const { sent, failed, wrongTenant, ...extra } = f;
  const rest = Object.entries(extra).map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v) : v}`);
  // Through Caddy (SILO_TEST_PROXY=caddy, see through-caddy.test.ts) the line says so.
  const via = process.env.SILO_TEST_PROXY === 'caddy' ? ['proxy=caddy'] : [];
  const line = [`figures: scenario=${scenario}`, `sent=${sent}`, `failed=${failed}`, `wrongTenant=${wrongTenant}`, ...rest, ...via].join(' ');
  t.comment(line);
  return line;
}

// ---------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  status: number; // 0: no answer (error or timeout)
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
  error?: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  agent?: Agent | false;
}

/**
 * One request with Node's client. An idempotent request whose reused keep-alive
 * connection was closed before any answer is retried once (RFC 9112 9.3.1), and counted.
 */
/** `port`: a loopback port, or the path of a Unix socket (a worker's). */
export function send(port: number | string, host: string, path: string, opts: SendOptions = {}, counters?: { retried: number }): Promise<Answer> {
  const start = performance.now();
  const method = opts.method ?? 'GET';
  const attempt = (retry: boolean): Promise<Answer> =>
    new Promise((resolve) => {
      const headers: Record<string, string> = { host, ...(opts.headers ?? {}) };
      if (opts.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      // The retry goes on a fresh connection: another idle one of the agent may be closing too.
      const agent = retry ? (opts.agent ?? false) : false;
      const where = typeof port === 'string' ? { socketPath: port } : { host: '127.0.0.1', port };
      const req = request({ ...where, path, method, headers, agent, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - start }));
        res.on('error', (err) => resolve({ status: 0, headers: {}, text: '', ms: performance.now() - start, error: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', (err) => {
        if (retry && req.reusedSocket && (method === 'GET' || method === 'HEAD') && /ECONNRESET|EPIPE|socket hang up/.test(err.message)) {
          if (counters) counters.retried++;
          attempt(false).then(resolve);
          return;
        }
        resolve({ status: 0, headers: {}, text: '', ms: performance.now() - start, error: err.message });
      });
      req.end(opts.body);
    });
  return attempt(true);
}

export interface RawAnswer {
  status: number; // 0: the server sent nothing
  head: string;
  body: string;
  /** ms until a complete answer, or until the server closed the connection */
  ms: number;
  /** the server closed the connection (rather than us after a complete answer) */
  closedByServer: boolean;
  timedOut: boolean;
}

function complete(buf: Buffer): { head: string; body: string } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const rest = buf.subarray(end + 4);
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) return rest.length >= Number(cl[1]) ? { head, body: rest.subarray(0, Number(cl[1])).toString('utf8') } : undefined;
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    if (!rest.includes('\r\n0\r\n\r\n') && !rest.subarray(0, 5).equals(Buffer.from('0\r\n\r\n'))) return undefined;
    let body = '';
    let i = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', i);
      const size = parseInt(rest.subarray(i, nl).toString('latin1'), 16);
      if (!size) break;
      body += rest.subarray(nl + 2, nl + 2 + size).toString('utf8');
      i = nl + 2 + size + 2;
    }
    return { head, body };
  }
  if (/^HTTP\/1\.[01] (1\d\d|204|304)/.test(head)) return { head, body: '' };
  return undefined; // read until close
}

/**
 * Writes raw bytes (all at once, or `parts` one every `gapMs`) on a fresh connection and
 * reads one answer: complete by Content-Length/chunked, or whatever came before the close.
 */
export function raw(port: number | string, data: string | Buffer | (string | Buffer)[], opts: { gapMs?: number; timeoutMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const start = performance.now();
    // A port on loopback, or a Unix socket's path (a worker's).
    const socket = typeof port === 'string' ? connect(port) : connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean, timedOut = false) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      const full = complete(buf);
      const head = full?.head ?? buf.toString('latin1').split('\r\n\r\n')[0] ?? '';
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body: full?.body ?? buf.toString('utf8').split('\r\n\r\n').slice(1).join('\r\n\r\n'), ms: performance.now() - start, closedByServer, timedOut });
      socket.destroy();
    };
    const deadline = setTimeout(() => finish(false, true), opts.timeoutMs ?? 30_000);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (complete(buf)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => {
      if (!Array.isArray(data)) {
        socket.write(data);
        return;
      }
      let i = 0;
      const next = () => {
        if (i < data.length && !socket.destroyed) socket.write(data[i++]!);
        else clearInterval(timer);
      };
      next();
      timer = setInterval(next, opts.gapMs ?? 1000);
    });
  });
}

/** Run `concurrency` loops of `fn` until stopped (or `until` says so). */
export function loops(concurrency: number, fn: (loop: number) => Promise<void>, until?: () => boolean): { stop(): Promise<void>; done: Promise<void> } {
  let running = true;
  const all = Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (running && !(until?.() ?? false)) await fn(i);
    }),
  ).then(() => undefined);
  return {
    done: all,
    async stop() {
      running = false;
      await all;
    },
  };
}

export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, everyMs = 100): Promise<number> {
  const start = performance.now();
  for (;;) {
    try {
      if (await check()) return performance.now() - start;
    } catch {
      // not yet
    }
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Run `check` while `host` gets a GET every 250 ms. With hibernation set to seconds, a
 * tenant idle while a slow command runs (`silo status` takes seconds on a loaded machine)
 * is rightly put back to sleep before the command reads its state; a user whose tenant
 * is in use never sees that. Busy, it stays awake, and "it is online" is a fact to check,
 * not a race.
 */
export async function keptAwake<T>(port: number, host: string, check: () => Promise<T>): Promise<T> {
  const busy = loops(1, async () => {
    await send(port, host, '/api/tenant', { timeoutMs: 15_000 });
    await sleep(250);
  });
  try {
    return await check();
  } finally {
    await busy.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Steady load on one tenant (GET /api/tenant, checked), with its own counters

export interface TenantLoad {
  tenant: string;
  sent: number;
  failed: number;
  wrong: number;
  retried: number;
  statuses: Record<string, number>;
  errors: string[];
  maxMs: number;
}

export function tenantLoad(port: number, tenant: string, opts: { concurrency?: number; path?: string; domain?: string } = {}) {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 2 });
  const r: TenantLoad = { tenant, sent: 0, failed: 0, wrong: 0, retried: 0, statuses: {}, errors: [], maxMs: 0 };
  const host = `${tenant}.${opts.domain ?? 'localhost'}`;
  const l = loops(opts.concurrency ?? 2, async () => {
    const a = await send(port, host, opts.path ?? '/api/tenant', { agent, timeoutMs: 15_000 }, r);
    r.sent++;
    r.maxMs = Math.max(r.maxMs, a.ms);
    r.statuses[a.status] = (r.statuses[a.status] ?? 0) + 1;
    if (a.status !== 200) {
      r.failed++;
      if (r.errors.length < 10) r.errors.push(a.error ?? `HTTP ${a.status}: ${a.text.slice(0, 120)}`);
      await sleep(5); // do not spin on a refused connection
    } else if (!a.text.includes(`"tenant":"${tenant}"`) && (opts.path ?? '/api/tenant') === '/api/tenant') {
      r.wrong++;
      if (r.errors.length < 10) r.errors.push(`wrong tenant: ${a.text.slice(0, 120)}`);
    }
  });
  return {
    report: r,
    async stop(): Promise<TenantLoad> {
      await l.stop();
      agent.destroy();
      return r;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Which tenant does a body belong to?

export interface TenantData {
  tenant: string;
  questions: string[];
}

/** Each tenant's data, read straight from its own worker (its real Host, no proxy). */
export async function knownData(stack: Stack, tenants: string[]): Promise<TenantData[]> {
  const out: TenantData[] = [];
  for (const tenant of tenants) {
    const a = await send(stack.workerSocket(tenant), `${tenant}.localhost`, '/api/polls');
    if (a.status !== 200) throw new Error(`${tenant}: HTTP ${a.status} ${a.text}`);
    out.push({ tenant, questions: (JSON.parse(a.text) as { question: string }[]).map((p) => p.question) });
  }
  for (const d of out) {
    for (const o of out) {
      if (o !== d && o.questions.some((q) => d.questions.includes(q))) throw new Error(`${d.tenant} and ${o.tenant} share a poll question: pick distinct data`);
    }
  }
  return out;
}

/** Every tenant whose data (name as `{"tenant":...}`, `<h1 id="tenant">`, or a poll question) the body carries. */
export function tenantsIn(body: string, data: TenantData[]): string[] {
  const found = new Set<string>();
  for (const d of data) {
    if (body.includes(`"tenant":"${d.tenant}"`) || body.includes(`<h1 id="tenant">${d.tenant}</h1>`)) found.add(d.tenant);
    for (const q of d.questions) {
      if (body.includes(JSON.stringify(q).slice(1, -1)) || body.includes(escapeHtml(q))) found.add(d.tenant);
    }
  }
  return [...found];
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// ---------------------------------------------------------------------------------------
// The stack: status, restart counts, database rows, pm2 CLI

/** `silo status --json`, as src/stack/status.ts types it, and its text. */
export async function siloStatus(stack: Stack): Promise<StackStatus & { raw: string }> {
  const r = await stack.cli(['status', '--json']);
  if (r.code !== 0) throw new Error(`silo status failed: ${r.stderr}`);
  return { ...JSON.parse(r.stdout), raw: r.stdout };
}

export async function restarts(stack: Stack): Promise<Record<string, number>> {
  const s = await siloStatus(stack);
  return Object.fromEntries(s.tenants.map((x) => [x.name, x.restarts ?? -1]));
}

export async function pids(stack: Stack): Promise<Record<string, number | undefined>> {
  const s = await siloStatus(stack);
  return Object.fromEntries(s.tenants.map((x) => [x.name, x.pid]));
}

export function serverUrl(stack: Stack, server = 'local'): string {
  return readFileSync(join(stack.home, 'secrets', 'servers', `${server}.url`), 'utf8').trim();
}

export function tenantPassword(stack: Stack, tenant: string): string {
  return readFileSync(join(stack.home, 'secrets', 'tenants', `${tenant}.password`), 'utf8').trim();
}

export interface Rows {
  polls: number;
  choices: number;
  votes: number;
  counted: number;
}

/** Row counts of one tenant database, read as that server's admin. */
export async function rowCounts(adminUrl: string, tenant: string): Promise<Rows> {
  const sql = postgres({ ...urlOptions(adminUrl),  database: tenant, max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [r] = await sql<Rows[]>`
      select (select count(*) from polls)::int as polls, (select count(*) from choices)::int as choices,
             (select count(*) from votes)::int as votes, (select coalesce(sum(votes), 0) from choices)::int as counted`;
    return r!;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export async function withTenantDb<T>(adminUrl: string, tenant: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres({ ...urlOptions(adminUrl),  database: tenant, max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** The pm2 CLI of the project, against the stack's PM2_HOME (never ~/.pm2). */
export function pm2Cli(stack: Stack, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!stack.env.PM2_HOME) throw new Error('PM2_HOME must be set');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { cwd: root, env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------------------
// A TCP forwarder between a worker and its database server

/**
 * `pass`: forwards both ways. `blackhole`: accepts new connections and never forwards
 * (nor answers) anything, and freezes every pair already forwarding (nothing moves in
 * either direction). `resume()` goes back to `pass`: frozen pairs flow again, held
 * connections (that never reached the database) are closed.
 */
export class Forwarder {
  port = 0;
  mode: 'pass' | 'blackhole' = 'pass';
  private server: Server;
  private pairs = new Set<{ client: Socket; upstream: Socket }>();
  private held = new Set<Socket>();

  constructor(private targetPort: number, private targetHost = '127.0.0.1') {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private accept(client: Socket): void {
    client.on('error', () => {});
    if (this.mode === 'blackhole') {
      client.pause();
      this.held.add(client);
      client.on('close', () => this.held.delete(client));
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.mode !== 'pass') this.freeze(pair);
  }

  private freeze(p: { client: Socket; upstream: Socket }): void {
    p.client.unpipe(p.upstream);
    p.upstream.unpipe(p.client);
    p.client.pause();
    p.upstream.pause();
  }

  blackhole(): void {
    this.mode = 'blackhole';
    for (const p of this.pairs) this.freeze(p);
  }

  resume(): void {
    this.mode = 'pass';
    for (const s of this.held) s.destroy();
    this.held.clear();
    for (const p of this.pairs) {
      p.client.pipe(p.upstream);
      p.upstream.pipe(p.client);
      p.client.resume();
      p.upstream.resume();
    }
  }

  get counts(): { forwarding: number; held: number } {
    return { forwarding: this.pairs.size, held: this.held.size };
  }

  async close(): Promise<void> {
    for (const s of this.held) s.destroy();
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export { sleep };
