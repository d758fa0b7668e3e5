import t from 'tap';
import { validateTenantName } from '../../src/common/names.js';

t.test('accepts lowercase DNS labels', async (t) => {
  for (const name of ['acme', 'client1', 'a1', 'big-co', 'x'.repeat(32)]) t.equal(validateTenantName(name), name, name);
});

t.test('refuses names that are unsafe as a hostname, role, database or file name', async (t) => {
  const bad = ['Acme', 'a', '-x', 'x-', 'x_y', '1abc', 'template1', 'template0', 'postgres', 'www', 'admin', 'api',
    'x'.repeat(33), 'x'.repeat(64), "x'; drop table y; --", 'a b', 'a.b', '', 'ümlaut', 'acme\n'];
  for (const name of bad) t.throws(() => validateTenantName(name), /invalid tenant name/, JSON.stringify(name));
});
