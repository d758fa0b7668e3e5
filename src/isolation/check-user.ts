/**
 * Who runs an app's release check (src/apps/check.ts), which imports the app's code:
 * under root never root, but the home's own unprivileged `check` user (named like a
 * tenant user, with `_check`, which no tenant name can be, so it goes with the home's
 * tenant users), in a private temporary folder that is its HOME and TMPDIR, with no
 * supplementary groups. It can read the snapshot it checks and silo's worker code, like
 * a tenant's worker; not the registry, the secrets or the backups (root's, 0600/0700),
 * and it can write nowhere but its temporary folder. What it leaves running is killed.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import { blockingFolder, isRoot } from '../common/reach.js';
import { SiloError } from '../common/errors.js';
import { ensureTenantUser } from './tenant-user.js';

const CHECK = '_check';

export interface CheckIdentity {
  uid: number;
  gid: number;
  /** its private folder: HOME, TMPDIR and working directory */
  dir: string;
  /** remove the folder and kill whatever the check left running as this user */
  done(): void;
}

/** Processes of `uid` now (from /proc). */
function processesOf(uid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(join('/proc', entry, 'status'), 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Under root: the identity a check runs as; undefined when silo is not root (nothing to switch to). */
export function checkIdentity(cfg: SiloConfig): CheckIdentity | undefined {
  if (!isRoot()) return undefined;
  const blocked = blockingFolder(cfg.home); // the folders above it (the home itself is opened below)
  if (blocked) {
    throw new SiloError(
      `the release check's user cannot reach ${cfg.home}: ${blocked.folder} (mode ${blocked.mode}) is private; as root, keep SILO_HOME outside private folders (e.g. SILO_HOME=/var/lib/silo/<name>)`,
    );
  }
  const user = ensureTenantUser(cfg, CHECK);
  // The snapshot it checks is under $SILO_HOME/releases: the home can be entered, not
  // listed, as for the tenants' users (tenant-user.ts). Not made yet: whoever makes it.
  if (existsSync(cfg.home)) chmodSync(cfg.home, 0o711);
  const dir = mkdtempSync(join(tmpdir(), 'silo-check-'));
  chownSync(dir, user.uid, user.gid);
  return {
    uid: user.uid,
    gid: user.gid,
    dir,
    done() {
      for (let round = 0; round < 20; round++) {
        const left = processesOf(user.uid);
        if (left.length === 0) break;
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
