/**
 * A throwaway embedded PostgreSQL for one test file: its own data dir and free port,
 * stopped and deleted in teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startEmbedded } from '../../src/postgres/embedded.js';
import { freePort } from '../../src/common/ports.js';

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
  const password = randomBytes(12).toString('hex');
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
