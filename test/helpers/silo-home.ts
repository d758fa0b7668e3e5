/**
 * A throwaway $SILO_HOME with its embedded PostgreSQL running (as it would under PM2),
 * plus a way to run the real compiled `silo` CLI against it. Torn down in teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig, type SiloConfig } from '../../src/common/config.js';
import { adminUrl, embeddedOptions, ensureDefaultServer, EMBEDDED } from '../../src/servers/servers.js';
import { startEmbedded } from '../../src/postgres/embedded.js';
import { freePort } from '../../src/common/ports.js';
import { forgetHome } from '../../src/isolation/cleanup.js';
import { seedEmbeddedServer } from '../../src/testing/pg-template.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const siloBin = join(root, 'bin', 'silo.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SiloHome {
  cfg: SiloConfig;
  env: NodeJS.ProcessEnv;
  adminUrl: string;
  cli(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
}

export function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [siloBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function makeSiloHome(
  t: { teardown(fn: () => unknown): void },
  opts: { startDatabase?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<SiloHome> {
  const home = mkdtempSync(join(tmpdir(), 'silo-home-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SILO_HOME: home,
    SILO_PG_PORT: String(await freePort()),
    // Below Linux's ephemeral range (32768+), where an outgoing connection could take the port.
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
    SILO_HTTP_PORT: String(await freePort()),
    PM2_HOME: join(home, 'pm2'),
    ...opts.env,
  };
  await seedEmbeddedServer(env);
  const cfg = loadConfig(env);
  const reg = await ensureDefaultServer(cfg);
  const url = adminUrl(cfg, EMBEDDED);
  let stop: (() => Promise<void>) | undefined;
  if (opts.startDatabase !== false) {
    stop = (await startEmbedded(embeddedOptions(cfg, reg, EMBEDDED))).stop;
  }
  t.teardown(async () => {
    await stop?.();
    rmSync(home, { recursive: true, force: true });
    forgetHome(home);
  });
  return { cfg, env, adminUrl: url, cli: (args, extra) => runCli({ ...env, ...extra }, args) };
}
