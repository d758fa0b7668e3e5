/**
 * Its role's password file (its worker reads it: mode 0600, or under root 0400 owned by its
 * Unix user, see isolation/tenant-user.ts). A lost one gets a new password; the role part
 * then gives the role that password. (The dump role's file belongs to the dump-role part.)
 */
import { chmodSync, chownSync, statSync } from 'node:fs';
import { generatePassword, readSecret, removeSecret, writeSecret } from '../../common/secrets.js';
import { passwordFileRule, tenantUser } from '../../isolation/tenant-user.js';
import type { PartContext, TenantPart } from './part.js';

const fileOf = (t: PartContext) => t.paths.tenantPassword(t.name);

export const passwordFile: TenantPart = {
  name: 'password-file',
  where: 'host',
  check(t) {
    const tenant = fileOf(t);
    if (readSecret(tenant) === undefined) return 'it was missing';
    // Its owner and mode as passwordFileRule says (isolation/tenant-user.ts).
    const st = statSync(tenant);
    const rule = passwordFileRule(t.cfg, t.name);
    if ((st.mode & 0o777) !== rule.mode) return `its mode was ${(st.mode & 0o777).toString(8)}`;
    if (st.uid !== rule.uid) return `it was owned by uid ${st.uid}`;
    return undefined;
  },
  ensure(t) {
    const tenant = fileOf(t);
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
    return did;
  },
  remove: (t) => removeSecret(fileOf(t)),
};
