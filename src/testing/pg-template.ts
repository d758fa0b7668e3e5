/**
 * One initdb per test run instead of one per test file. `npm test` (scripts/test.js)
 * initialises a PostgreSQL data directory once and names its folder in
 * SILO_TEST_PG_TEMPLATE; every test that needs an embedded server copies it (`cp -a`
 * keeps the owner, the `postgres` user under root) instead of running initdb (4 to 8 s
 * each on a busy 2-core machine, most of it fsync). Without the variable (one file run
 * by hand) tests initialise their own, as before.
 *
 * The template's server never fsyncs: a test kills processes (workers, the CLI,
 * postgres itself), never the machine, and a killed postgres loses nothing the kernel
 * already holds. `synchronous_commit` stays on: an acknowledged commit is in the kernel
 * before the client hears of it, so the "no acknowledged write lost" checks keep their
 * meaning. The superuser password is in a file of the template (0600), never in the
 * environment.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initialiseIfNeeded, isInitialised } from '../postgres/embedded.js';
import { generatePassword, readSecret, writeSecret } from '../common/secrets.js';
import { loadConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { ensureDefaultServer, EMBEDDED } from '../servers/servers.js';

export const TEMPLATE_ENV = 'SILO_TEST_PG_TEMPLATE';

const TEST_SETTINGS = `
# silo test template (src/testing/pg-template.ts): tests kill processes, never the machine
fsync = off
`;

/** Initialise the template once; returns its folder (for SILO_TEST_PG_TEMPLATE). */
export async function makePgTemplate(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'silo-pg-template-'));
  const password = generatePassword();
  writeFileSync(join(root, 'password'), password, { mode: 0o600 });
  const dataDir = join(root, 'postgres', 'data');
  await initialiseIfNeeded({ dataDir, port: 0, password });
  appendFileSync(join(dataDir, 'postgresql.conf'), TEST_SETTINGS);
  return root;
}

export function removePgTemplate(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/**
 * Put a copy of the run's template at `dataDir` (which must not be initialised yet) and
 * return the superuser password it was made with; undefined when there is no template.
 */
export function copyPgTemplate(dataDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const root = env[TEMPLATE_ENV];
  if (!root || !existsSync(join(root, 'postgres', 'data', 'PG_VERSION'))) return undefined;
  if (existsSync(join(dataDir, 'PG_VERSION'))) throw new Error(`${dataDir} is initialised already`);
  mkdirSync(dirname(dataDir), { recursive: true });
  rmSync(dataDir, { recursive: true, force: true });
  execFileSync('cp', ['-a', join(root, 'postgres', 'data'), dataDir]);
  return readFileSync(join(root, 'password'), 'utf8').trim();
}

/**
 * A fresh SILO_HOME (described by `env`) gets the template as its embedded server's data,
 * registered the way `silo up` would (ensureDefaultServer) and with the template's
 * password in its admin URL. Does nothing without a template, with an external server,
 * or when the server is initialised already.
 */
export async function seedEmbeddedServer(env: NodeJS.ProcessEnv): Promise<void> {
  if (!process.env[TEMPLATE_ENV]) return;
  const cfg = loadConfig(env);
  const reg = await ensureDefaultServer(cfg);
  if (reg.servers[EMBEDDED]?.kind !== 'embedded') return;
  const paths = homePaths(cfg.home);
  const dataDir = paths.pgData(EMBEDDED);
  if (isInitialised(dataDir)) return;
  const password = copyPgTemplate(dataDir);
  if (password === undefined) return;
  const url = new URL(readSecret(paths.serverUrl(EMBEDDED))!);
  url.password = password; // base64url: nothing to escape
  writeSecret(paths.serverUrl(EMBEDDED), url.toString());
}
