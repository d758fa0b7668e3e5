/**
 * The hostile-tenant harness itself: evil's app runs the code it is sent inside evil's
 * worker, as evil's Unix user and database role, while client1 and client2 keep serving
 * the sample app and their data. And what already held before issue 16 still holds:
 * evil's role cannot open another tenant's database.
 */
import t from 'tap';
import { EVIL, figures, hostileStack } from './hostile.js';

t.setTimeout(170_000);

const stack = await hostileStack(t);
if (!stack) process.exit(0);

await t.test("evil's code runs in its worker, as its user, with its database role", async (t) => {
  const me = await stack.runAsEvil<{ uid: number; user: string; db: string; tenant: string }>(`
    const [r] = await sql\`select current_user as user, current_database() as db\`;
    return { uid: process.getuid(), user: r.user, db: r.db, tenant };
  `);
  t.same(me.result, { uid: stack.unixUser(EVIL).uid, user: EVIL, db: EVIL, tenant: EVIL });
  const failing = await stack.runAsEvil('await sql`select * from no_such_table`');
  t.equal(failing.code, '42P01', 'errors come back with their code');
  const polls = await stack.http('client1.localhost', '/api/polls');
  t.equal(polls.status, 200);
  t.ok((polls.json() as unknown[]).length > 0, 'client1 keeps the sample app and its data');
  const evilTenant = await stack.http('evil.localhost', '/api/tenant');
  t.same(evilTenant.json(), { tenant: EVIL, app: 'evil' }, 'evil runs the hostile app');
});

await t.test("evil's role cannot open client1's database", async (t) => {
  const r = await stack.runAsEvil(`
    const o = sql.options;
    const other = postgres({ host: o.host[0], port: o.port[0], user: o.user, pass: o.pass, database: 'client1', max: 1, onnotice() {} });
    try { return await other\`select count(*)::int as n from polls\`; } finally { await other.end({ timeout: 1 }); }
  `);
  t.equal(r.code, '42501', `refused: ${r.error}`);
  figures(t, 'connect-to-client1-database', r.error !== undefined ? 'refused' : 'succeeded');
});
