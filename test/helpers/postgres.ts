/**
 * A throwaway embedded PostgreSQL for one test file: its own data dir and free port,
 * stopped and deleted in teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startEmbedded, type EmbeddedServerOptions, type RunningServer } from '../../src/postgres/embedded.js';
import { freePort } from '../../src/common/ports.js';
import { copyPgTemplate } from '../../src/testing/pg-template.js';
import { parsePgUrl, pgOptions } from '../../src/contract/pg-connect.js';

export interface TestPostgres {
  adminUrl: string;
  host: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startTestPostgres(t: { teardown(fn: () => unknown): void }): Promise<TestPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'silo-pg-'));
  const dataDir = join(root, 'postgres', 'data');
  const port = await freePort();
  // The run's template (one initdb per `npm test`), or a fresh initdb.
  const password = copyPgTemplate(dataDir) ?? randomBytes(12).toString('hex');
  const opts = { dataDir, port, password, maxConnections: 200 };
  let running: { stop(): Promise<void> } | undefined = await startEmbedded(opts);
  const pg: TestPostgres = {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    dataDir,
    async stop() {
      await running?.stop();
      running = undefined;
    },
    async start() {
      if (!running) running = await startEmbedded(opts);
    },
  };
  t.teardown(async () => {
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
  });
  return pg;
}

/**
 * startEmbedded with a chosen superuser password, from the run's template when there is
 * one (then the password is set once the copy runs).
 */
export async function startEmbeddedWithPassword(opts: EmbeddedServerOptions): Promise<RunningServer> {
  const templatePassword = copyPgTemplate(opts.dataDir);
  if (templatePassword === undefined) return startEmbedded(opts);
  const running = await startEmbedded({ ...opts, password: templatePassword });
  // silo's own servers listen on their Unix socket only.
  const sql = postgres({ ...pgOptions({ host: opts.socketDir ?? '127.0.0.1', port: opts.port }), username: 'postgres', password: templatePassword, database: 'postgres', max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`alter role postgres password '${opts.password.replace(/'/g, "''")}'`);
  } finally {
    await sql.end({ timeout: 2 });
  }
  return running;
}

/** postgres.js options for one of silo's admin URLs (an embedded server's is a Unix socket folder: `?host=/dir`). */
export function urlOptions(url: string) {
  const p = parsePgUrl(url);
  return { ...pgOptions(p), username: p.user, password: p.password, database: p.database };
}
