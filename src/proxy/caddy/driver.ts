/**
 * The Caddy driver (the contract: ../driver.ts). silo writes a Caddyfile (render.ts) and
 * Caddy runs the JSON it adapts to, completed with what the Caddyfile cannot say (silo's
 * ACME account: tls.ts). The JSON may hold that account's key, so it is a private file
 * (0600, the proxy user's). Adapting is a child process, so a render reuses the installed
 * JSON while what it was adapted from is the same (caddy.json.sha256, private too).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../common/config.js';
import { chownTree, dropTo, lastLine, proxyEnv as env, type ProxyDriver } from '../driver.js';
import type { ProxyModel } from '../model.js';
import { renderCaddy } from './render.js';
import { withAcmeAccount } from './tls.js';

const run = promisify(execFile);

export function caddyDriver(dir: string, binary: string): Omit<ProxyDriver, 'status'> {
  const config = join(dir, 'caddy.json');
  const adminSocket = join(dir, 'admin.sock');
  const pidFile = join(dir, 'caddy.pid');
  const record = join(dir, 'caddy.json.sha256');
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  /**
   * What caddy.json is made of: the Caddyfile, silo's ACME account key, and the program
   * that adapts (an upgraded Caddy adapts afresh).
   */
  function sources(caddyfile: string, model: ProxyModel): string {
    let program = binary;
    try {
      const st = statSync(binary);
      program += ` ${st.size} ${st.mtimeMs}`;
    } catch {
      // adapt says what is wrong with it
    }
    return sha256(JSON.stringify([program, caddyfile, model.tls?.acme?.accountKey ?? null]));
  }

  /** The installed caddy.json, if it was made of `made` and is as it was written (its record: "<sources> <its own sha256>"). */
  function installed(made: string): string | undefined {
    try {
      const [from, own] = readFileSync(record, 'utf8').trim().split(' ');
      if (from !== made) return undefined;
      const json = readFileSync(config, 'utf8');
      return sha256(json) === own ? json : undefined;
    } catch {
      return undefined;
    }
  }

  /** The Caddyfile adapted by Caddy itself (its `{$VAR}`s from the proxy's environment). */
  async function adapt(caddyfile: string, model: ProxyModel): Promise<string> {
    // (from a file: Node's pipes are sockets, which /dev/stdin cannot open)
    const scratch = mkdtempSync(join(tmpdir(), 'silo-caddy-adapt-'));
    let stdout: string;
    try {
      writeFileSync(join(scratch, 'Caddyfile'), caddyfile);
      ({ stdout } = await run(binary, ['adapt', '--config', join(scratch, 'Caddyfile'), '--adapter', 'caddyfile'], { env: env(dir), maxBuffer: 64 * 1024 * 1024 }));
    } catch (err) {
      throw new Error(`the rendered Caddyfile does not adapt: ${lastLine(err)}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return JSON.stringify(withAcmeAccount(JSON.parse(stdout), model), null, '\t') + '\n';
  }

  return {
    kind: 'caddy',
    dir,
    config,
    pidFile,
    privateFiles: ['caddy.json', 'caddy.json.sha256'],
    // on-demand TLS (tls.ts): a host's certificate is ordered in its first handshake
    issuingHandshakeMs: 60_000,
    async render(model) {
      const Caddyfile = renderCaddy(readFileSync(join(projectRoot, 'proxy', 'Caddyfile.base'), 'utf8'), model);
      const made = sources(Caddyfile, model);
      const json = installed(made) ?? (await adapt(Caddyfile, model));
      return { Caddyfile, 'caddy.json': json, 'caddy.json.sha256': `${made} ${sha256(json)}\n` };
    },
    async validate(stagingDir) {
      try {
        await run(binary, ['validate', '--config', join(stagingDir, 'caddy.json')], { env: env(dir) });
      } catch (err) {
        throw new Error(`the rendered caddy config is invalid: ${lastLine(err)}`);
      }
    },
    async reload() {
      // Through the admin API: an atomic swap that keeps the old config on error.
      try {
        await run(binary, ['reload', '--config', config, '--address', `unix/${adminSocket}`], { env: env(dir) });
      } catch (err) {
        throw new Error(`caddy reload failed: ${lastLine(err)}`);
      }
    },
    command(runAs) {
      const args = ['run', '--config', config, '--pidfile', pidFile];
      if (!runAs) return { script: binary, args, env: env(dir) };
      // Its admin socket, pid file and state are in its folder: the proxy user's (root,
      // which reloads it through that socket, can always connect).
      mkdirSync(dir, { recursive: true });
      chownTree(dir, runAs);
      return { script: '/usr/bin/setpriv', args: [...dropTo(runAs), binary, ...args], env: env(dir) };
    },
  };
}
