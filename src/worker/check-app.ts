/**
 * `node dist/worker/check-app.js [<entry>]`: does this tenant app load and register in a
 * worker? The control plane runs it before `up`, `tenant create` and `deploy`, so a bad
 * app is one line at the command, never a worker crash-looping under PM2.
 *
 * It builds the real worker (every platform plugin, then the app) for a made-up tenant
 * with no database behind it (postgres.js connects lazily), and calls `ready()`, every
 * route schema compiled (a worker compiles each on first use). On
 * success it prints one JSON line: the app's name, migrations folder, latest migration
 * and whether it exports `seed`. On failure: one line on stderr, exit 1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations } from '../migrate/files.js';
import { latestVersion } from '../migrate/pending.js';
import { buildWorker } from './app.js';
import { loadConfig } from './config.js';
import { loadApp } from '../apps/load-app.js';

const READY_TIMEOUT_MS = 10_000;

async function check(entry: string | undefined): Promise<object> {
  const app = await loadApp(entry);
  let latest: number;
  try {
    latest = latestVersion(loadMigrations(app.migrationsDir));
  } catch (err) {
    throw new Error(`migrations: ${(err as Error).message}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'silo-check-'));
  try {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'unused', { mode: 0o600 });
    // Port 1 on loopback: nothing answers, and registration must not need an answer.
    const config = loadConfig({ TENANT: 'check', PORT: '0', DB_PORT: '1', DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent' });
    const fastify = buildWorker(config, { app, eagerSchemas: true });
    const timer = setTimeout(() => {
      process.stderr.write(`its plugin did not finish registering within ${READY_TIMEOUT_MS / 1000} s\n`);
      process.exit(1);
    }, READY_TIMEOUT_MS);
    try {
      await fastify.ready();
    } catch (err) {
      throw new Error(`its plugin fails at registration: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      await fastify.close().catch(() => undefined);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { checked: true, name: app.name, migrationsDir: app.migrationsDir, latestMigration: latest, seed: typeof app.seed === 'function' };
}

check(process.argv[2] || undefined).then(
  (info) => {
    process.stdout.write(JSON.stringify(info) + '\n');
    process.exit(0);
  },
  (err: Error) => {
    process.stderr.write(`${(err.message ?? String(err)).split('\n')[0]}\n`);
    process.exit(1);
  },
);
