/**
 * Its password files: the tenant role's (its worker reads it: mode 0600, or under root
 * 0400 owned by its Unix user, see isolation/tenant-user.ts) and its dump role's. A lost
 * password file gets a new password; the role part then gives the role that password.
 */
import { chmodSync, chownSync, statSync } from 'node:fs';
import { generatePassword, readSecret, removeSecret, writeSecret } from '../../common/secrets.js';
import { passwordFileRule, tenantUser } from '../../isolation/tenant-user.js';
import type { PartContext, TenantPart } from './part.js';

const files = (t: PartContext) => ({ tenant: t.paths.tenantPassword(t.name), dump: t.paths.dumpPassword(t.name) });

export const passwordFile: TenantPart = {
  name: 'password-file',
  where: 'host',
  check(t) {
    const { tenant, dump } = files(t);
    if (readSecret(tenant) === undefined) return 'it was missing';
    // Its owner and mode as passwordFileRule says (isolation/tenant-user.ts).
    const st = statSync(tenant);
    const rule = passwordFileRule(t.cfg, t.name);
    if ((st.mode & 0o777) !== rule.mode) return `its mode was ${(st.mode & 0o777).toString(8)}`;
    if (st.uid !== rule.uid) return `it was owned by uid ${st.uid}`;
    if (readSecret(dump) === undefined) return 'its dump role had no password file';
    return undefined;
  },
  ensure(t) {
    const { tenant, dump } = files(t);
    const rule = passwordFileRule(t.cfg, t.name);
    let did: string | undefined;
    if (readSecret(tenant) === undefined) {
      writeSecret(tenant, generatePassword());
      did = 'a new password was written (the role follows)';
    } else if ((statSync(tenant).mode & 0o777) !== rule.mode) {
      did = `now ${rule.mode.toString(8)}`;
    } else if (statSync(tenant).uid !== rule.uid) {
      did = `now uid ${rule.uid}`;
    }
    const user = tenantUser(t.cfg, t.name);
    chownSync(tenant, rule.uid, user && rule.uid === user.uid ? user.gid : (process.getgid?.() ?? 0));
    chmodSync(tenant, rule.mode);
    if (readSecret(dump) === undefined) {
      writeSecret(dump, generatePassword());
      did ??= 'written';
    }
    return did;
  },
  remove(t) {
    removeSecret(files(t).tenant);
    removeSecret(files(t).dump);
  },
};
