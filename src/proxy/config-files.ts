/**
 * Installing a proxy configuration into $SILO_HOME/proxy/<kind>/: render it with the
 * driver, check the candidate with the proxy's own validator in a staging folder of
 * this command's own, and only then move it into place. A bad render never replaces a
 * working config, and two commands never share a staging folder.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyDriver, RunAs } from './driver.js';
import type { ProxyModel } from './model.js';

/**
 * Install the config for `model`. Returns false when no reload is needed: nothing
 * changed, or only the driver's deferred files (installed all the same). The driver's
 * private files are written 0600 and handed to `owner` (the proxy's user, under root).
 */
export async function installProxyConfig(driver: ProxyDriver, model: ProxyModel, owner?: RunAs): Promise<boolean> {
  const files = await driver.render(model);
  mkdirSync(driver.dir, { recursive: true });
  sweepStaging(driver.dir);
  const changed = Object.keys(files).filter((name) => {
    const file = join(driver.dir, name);
    return !existsSync(file) || readFileSync(file, 'utf8') !== files[name];
  });
  if (changed.length === 0) return false;
  const staging = mkdtempSync(join(driver.dir, `staging-${process.pid}-`));
  try {
    // A private file is 0600 and the proxy user's from its first byte to its place.
    const keep = (name: string, file: string) => {
      if (!driver.privateFiles?.includes(name)) return;
      chmodSync(file, 0o600);
      if (owner) chownSync(file, owner.uid, owner.gid);
    };
    for (const [name, text] of Object.entries(files)) {
      const file = join(staging, name);
      writeFileSync(file, text, { mode: driver.privateFiles?.includes(name) ? 0o600 : 0o666 });
      keep(name, file);
    }
    await driver.validate(staging);
    // Base file first, tenants file last: each rename is atomic.
    for (const name of Object.keys(files)) {
      const next = join(staging, `${name}.next`);
      copyFileSync(join(staging, name), next);
      keep(name, next);
      renameSync(next, join(driver.dir, name));
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return changed.some((name) => !driver.deferred?.includes(name));
}

/** Staging folders of commands that died before cleaning up (their pid is gone). */
function sweepStaging(dir: string): void {
  for (const entry of readdirSync(dir)) {
    const m = /^staging-(\d+)-/.exec(entry);
    if (m && !existsSync(`/proc/${m[1]}`)) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}
