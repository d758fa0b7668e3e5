/**
 * A whole silo stack for one test file: its own SILO_HOME, PM2_HOME, Postgres data dir
 * and free ports, brought up with the real `silo up` and torn down with `silo down`,
 * after which no process of it may remain.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { freePort } from '../../src/common/ports.js';
import { runCli, type CliResult } from './silo-home.js';
import { discardHome } from '../../src/testing/home.js';
import { seedEmbeddedServer } from '../../src/testing/pg-template.js';
import { runPaths } from '../../src/common/run-dir.js';

export interface Stack {
  home: string;
  env: NodeJS.ProcessEnv;
  httpPort: number;
  domain: string;
  cli(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** GET/POST through the proxy with a Host header */
  http(host: string, path: string, opts?: HttpOptions): Promise<HttpResult>;
  /** the Unix socket of a tenant's worker (only root and the proxy's user may connect) */
  workerSocket(tenant: string): string;
  up: CliResult;
}

export interface HttpOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** a loopback port, or a Unix socket's path */
  port?: number | string;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function httpRequest(port: number | string, host: string, path: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { host, ...(opts.headers ?? {}) };
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const where = typeof port === 'string' ? { socketPath: port } : { host: '127.0.0.1', port };
    const req = request({ ...where, path, method: opts.method ?? 'GET', headers, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export { processesOf } from '../../src/testing/home.js';

export async function startStack(
  t: { teardown(fn: () => unknown): void },
  opts: { proxy?: 'nginx' | 'caddy'; env?: NodeJS.ProcessEnv } = {},
): Promise<Stack> {
  const home = mkdtempSync(join(tmpdir(), 'silo-stack-'));
  const httpPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG,
    SILO_HOME: home,
    PM2_HOME: join(home, 'pm2'),
    SILO_HTTP_PORT: String(httpPort),
    SILO_PG_PORT: String(await freePort()),
    // Below Linux's ephemeral range (32768+), where an outgoing connection could take the port.
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
    // SILO_TEST_PROXY=caddy runs a scenario through Caddy (test/resilience/through-caddy.test.ts).
    SILO_PROXY: opts.proxy ?? (process.env.SILO_TEST_PROXY === 'caddy' ? 'caddy' : 'nginx'),
    ...opts.env,
  };
  const cli = (args: string[], extra?: NodeJS.ProcessEnv) => runCli({ ...env, ...extra }, args);
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    // Whatever `down` missed is a leak: stopped by pid, for the leak checks to report.
    await discardHome(home, () => cli(['down']));
  };
  t.teardown(teardown);
  await seedEmbeddedServer(env);
  const up = await cli(['up']);
  if (up.code !== 0) {
    // A test file that fails at its top level exits before tap runs teardowns: clean up
    // here, or a half-started stack outlives the run.
    await teardown();
    throw new Error(`silo up failed: ${up.stderr || up.stdout}`);
  }
  const stack: Stack = {
    home,
    env,
    httpPort,
    domain: 'localhost',
    cli,
    up,
    http: (host, path, o = {}) => httpRequest(o.port ?? httpPort, host, path, o),
    workerSocket: (tenant) => runPaths(home).workerSocket(tenant),
  };
  return stack;
}
