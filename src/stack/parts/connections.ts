/** Its database takes connections (a swap that crashed half-way may have closed it). Goes with the database. */
import { allowsConnections, setAllowConnections } from '../../postgres/side-database.js';
import { admin, type TenantPart } from './part.js';

export const connections: TenantPart = {
  name: 'connections',
  where: 'database',
  check: async (t) => ((await allowsConnections(await admin(t), t.name)) === true ? undefined : 'it refused connections'),
  async ensure(t) {
    await setAllowConnections(await admin(t), t.name, true);
    return 'allowed again';
  },
};
