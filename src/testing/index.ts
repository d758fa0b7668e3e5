/**
 * `import { startTenants } from "silo/testing"`: a hermetic silo stack of N tenants for
 * an app's own tests, as django-tenants' TenantTestCase is for Django. Each call gets its
 * own SILO_HOME, PM2_HOME, embedded PostgreSQL and free ports, runs the real `silo`
 * (tenant create, up), and `stop()` takes it all down again, leaving no process behind.
 *
 *   const stack = await startTenants({ app: appFolder, tenants: ['acme', 'globex'] });
 *   t.teardown(stack.stop);
 *   const res = await stack.request('acme', '/api/notes');
 *
 * Without `tenants`, `silo up` creates the demo tenants client1 and client2 and calls
 * the app's `seed` for each.
 */
import { discardHome } from './home.js';
import { seedEmbeddedServer } from './pg-template.js';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot } from '../common/config.js';
import { freePort } from '../common/ports.js';

export interface StartOptions {
  /** The app: a folder, an entry file or an installed package name (as SILO_APP). */
  app: string;
  /** Tenant names, or a count (t1..tN); default: the demo tenants client1 and client2. */
  tenants?: string[] | number;
  proxy?: 'nginx' | 'caddy';
  /** More SILO_* settings. */
  env?: Record<string, string>;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = unknown>(): T;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TenantStack {
  tenants: string[];
  home: string;
  httpPort: number;
  env: Record<string, string>;
  /** http://<tenant>.localhost:<port><path> */
  url(tenant: string, path?: string): string;
  /** A request to one tenant, through the proxy. */
  request(tenant: string, path: string, opts?: RequestOptions): Promise<Response>;
  /** Run `silo <args>` against this stack. */
  silo(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** `silo down`, then stop anything left, and delete the stack's folder. */
  stop(): Promise<void>;
}

const siloBin = join(projectRoot, 'bin', 'silo.js');

function run(env: Record<string, string>, args: string[], cwd: string): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [siloBin, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

function send(port: number, host: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { host, ...opts.headers };
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${path} on ${host} timed out`)));
    req.on('error', fail);
    req.end(body);
  });
}

export async function startTenants(opts: StartOptions): Promise<TenantStack> {
  const cwd = process.cwd();
  const home = mkdtempSync(join(tmpdir(), 'silo-test-'));
  const httpPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? home,
    SILO_HOME: home,
    PM2_HOME: join(home, 'pm2'),
    SILO_APP: opts.app.startsWith('.') ? resolve(cwd, opts.app) : opts.app,
    SILO_HTTP_PORT: String(httpPort),
    SILO_PG_PORT: String(await freePort()),
    // Below Linux's ephemeral range (32768+), where an outgoing connection could take the port.
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
    SILO_PROXY: opts.proxy ?? 'nginx',
    ...opts.env,
  };
  const silo = (args: string[], extra?: Record<string, string>) => run({ ...env, ...extra }, args, cwd);
  const stop = () => discardHome(home, () => silo(['down']));
  const names = typeof opts.tenants === 'number' ? Array.from({ length: opts.tenants }, (_, i) => `t${i + 1}`) : opts.tenants;
  try {
    await seedEmbeddedServer(env); // under `npm test`: a copy of the run's initdb
    for (const name of names ?? []) {
      const r = await silo(['tenant', 'create', name]);
      if (r.code !== 0) throw new Error(`silo tenant create ${name}: ${(r.stderr || r.stdout).trim()}`);
    }
    const up = await silo(['up']);
    if (up.code !== 0) throw new Error(`silo up: ${(up.stderr || up.stdout).trim()}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    tenants: names ?? ['client1', 'client2'],
    home,
    httpPort,
    env,
    url: (tenant, path = '/') => `http://${tenant}.localhost:${httpPort}${path}`,
    request: (tenant, path, o) => send(httpPort, `${tenant}.localhost`, path, o),
    silo,
    stop,
  };
}
