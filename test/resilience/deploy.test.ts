/**
 * Releases per tenant on a live stack of three tenants running an app outside silo
 * (the polls sample as its own folder, with GET /api/release naming its version):
 *
 * 1. a canary deploy to one tenant under GET and POST load on all three: no failed
 *    request anywhere, the canary answers the new release, the other two the old one
 *    throughout; then the same release to all, under the same load;
 * 2. a release whose migration fails on one tenant: that tenant stays on its release and
 *    serves, the others move, the command exits 1 naming it;
 * 3. rollback: refused in plain words when the schema moved on, done when it did not.
 *
 * Figures: sent/failed per tenant, and each tenant's switch time, per deploy.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { startLoad, type LoadReport } from '../helpers/load.js';
import { printFigures } from '../helpers/resilience.js';
import { pollsApp } from '../helpers/polls-app.js';

const TENANTS = ['client1', 'client2', 'client3'];
const v1 = pollsApp(t, { version: '1.0.0' });
const stack = await startStack(t, { env: { SILO_APP: v1 } });
const created = await stack.cli(['tenant', 'create', 'client3']);
if (created.code !== 0) throw new Error(created.stderr);

const host = (tenant: string) => `${tenant}.localhost`;
const version = async (tenant: string) => (await stack.http(host(tenant), '/api/release')).json().version as string;

interface TenantLoad {
  stop(): Promise<{ gets: LoadReport; posts: LoadReport; versions: Set<string> }>;
}

/** GET /api/release (recording every version seen) and POST /api/polls on one tenant. */
function load(tenant: string): TenantLoad {
  const versions = new Set<string>();
  const gets = startLoad(
    {
      port: stack.httpPort,
      host: host(tenant),
      path: '/api/release',
      check: (_s, body) => {
        versions.add(JSON.parse(body).version);
        return undefined;
      },
    },
    2,
  );
  const phase = Math.random().toString(36).slice(2, 8);
  let n = 0;
  const posts = startLoad(
    { port: stack.httpPort, host: host(tenant), path: '/api/polls', method: 'POST', body: () => ({ question: `${tenant} load ${phase} ${++n}`, choices: ['a', 'b'] }) },
    1,
  );
  return { stop: async () => ({ gets: await gets.stop(), posts: await posts.stop(), versions }) };
}

async function underLoad(t: Test, scenario: string, action: () => Promise<{ code: number; stdout: string; stderr: string }>) {
  const loads = Object.fromEntries(TENANTS.map((n) => [n, load(n)]));
  await new Promise((r) => setTimeout(r, 1000));
  const r = await action();
  await new Promise((r) => setTimeout(r, 1000));
  const reports = Object.fromEntries(await Promise.all(TENANTS.map(async (n) => [n, await loads[n]!.stop()] as const)));
  const deployed = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')) || '{}');
  const switchMs = Object.fromEntries((deployed.tenants ?? []).map((d: { tenant: string; switchMs?: number }) => [d.tenant, d.switchMs ?? 0]));
  const perTenant: Record<string, number | string> = {};
  let sent = 0;
  let failed = 0;
  for (const n of TENANTS) {
    const { gets, posts } = reports[n]!;
    perTenant[`${n}Sent`] = gets.sent + posts.sent;
    perTenant[`${n}Failed`] = gets.failed + posts.failed;
    if (switchMs[n] !== undefined) perTenant[`${n}SwitchMs`] = switchMs[n];
    sent += gets.sent + posts.sent;
    failed += gets.failed + posts.failed;
    t.equal(gets.failed + posts.failed, 0, `${n}: no failed request (${[...gets.errors, ...posts.errors].join('; ')})`);
    t.ok(gets.sent > 20 && posts.sent > 5, `${n}: load ran throughout (${gets.sent} GET, ${posts.sent} POST)`);
  }
  printFigures(t, scenario, { sent, failed, wrongTenant: 0, ...perTenant });
  return { r, reports, deployed };
}

t.test('a canary deploy to one of three tenants, then to all, under load', async (t) => {
  const v2 = pollsApp(t, { version: '1.1.0', migrations: { '0002_poll_notes.sql': 'alter table polls add column note text;' } });
  const canary = await underLoad(t, 'deploy-canary', () => stack.cli(['deploy', v2, '--tenant', 'client1', '--json']));
  t.equal(canary.r.code, 0, canary.r.stderr);
  t.match(canary.deployed.release, { name: 'polls', version: '1.1.0', id: /^[0-9a-f]{16}$/, latestMigration: 2 });
  t.match(canary.deployed.tenants, [{ tenant: 'client1', ok: true, schemaFrom: 1, schemaTo: 2, switchMs: Number }]);
  t.same([...canary.reports.client1!.versions].sort(), ['1.0.0', '1.1.0'], 'the canary moved from the old release to the new one');
  t.same([...canary.reports.client2!.versions], ['1.0.0'], 'client2 answered the old release throughout');
  t.same([...canary.reports.client3!.versions], ['1.0.0'], 'client3 answered the old release throughout');
  t.same(await Promise.all(TENANTS.map(version)), ['1.1.0', '1.0.0', '1.0.0']);
  for (const n of TENANTS) t.equal((await stack.http(host(n), '/readyz')).status, 200, `${n}: ready against its own release's schema`);

  const all = await underLoad(t, 'deploy-all', () => stack.cli(['deploy', v2, '--all', '--json']));
  t.equal(all.r.code, 0, all.r.stderr);
  t.equal(all.deployed.release.id, canary.deployed.release.id, 'the same content is the same release');
  t.same(await Promise.all(TENANTS.map(version)), ['1.1.0', '1.1.0', '1.1.0']);

  const list = JSON.parse((await stack.cli(['tenant', 'list', '--json'])).stdout);
  t.same(list.map((x: { release: unknown }) => x.release), TENANTS.map(() => ({ id: canary.deployed.release.id, name: 'polls', version: '1.1.0' })), 'tenant list --json shows each release');
});

t.test('a migration that fails on one tenant leaves it on its release, serving', async (t) => {
  // client2 holds two polls with the same question: the unique index cannot be built there.
  for (let i = 0; i < 2; i++) await stack.http(host('client2'), '/api/polls', { method: 'POST', body: { question: 'Same?', choices: ['y', 'n'] } });
  const v3 = pollsApp(t, {
    version: '1.2.0',
    migrations: { '0002_poll_notes.sql': 'alter table polls add column note text;', '0003_unique_questions.sql': 'create unique index polls_question on polls (question);' },
  });
  const r = await stack.cli(['deploy', v3, '--all']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^silo: deploy failed for client2; they stay on their previous release\n$/);
  t.match(r.stdout, /client2: FAILED: migration failed: could not create unique index "polls_question" .*\(still on polls@1\.1\.0 \([0-9a-f]{16}\), serving\)/);
  t.match(r.stdout, /2 of 3 tenants on polls@1\.2\.0/);
  t.same(await Promise.all(TENANTS.map(version)), ['1.2.0', '1.1.0', '1.2.0']);
  t.equal((await stack.http(host('client2'), '/readyz')).status, 200, 'client2 is ready on its old release');
  t.equal((await stack.http(host('client2'), '/api/polls', { method: 'POST', body: { question: 'still writable', choices: ['y', 'n'] } })).status, 201);
  const status = JSON.parse((await stack.cli(['status', '--json'])).stdout);
  t.same(status.tenants.map((x: { release: { version: string } }) => x.release.version), ['1.2.0', '1.1.0', '1.2.0'], 'status --json shows each release');
  t.same(status.tenants.map((x: { schemaVersion: number }) => x.schemaVersion), [3, 2, 3]);
});

t.test('rollback: refused when the schema moved on, done when it did not', async (t) => {
  const refused = await stack.cli(['rollback', 'client1']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^silo: cannot roll back client1 to polls@1\.1\.0 \([0-9a-f]{16}\): its database is at schema version 3, which that release does not know \(it ends at 2\); migrations are forward-only/);
  t.equal(await version('client1'), '1.2.0', 'nothing changed');

  // A code-only release (no new migration) can be rolled back.
  const v4 = pollsApp(t, {
    version: '1.2.1',
    migrations: { '0002_poll_notes.sql': 'alter table polls add column note text;', '0003_unique_questions.sql': 'create unique index polls_question on polls (question);' },
  });
  t.equal((await stack.cli(['deploy', v4, '--tenant', 'client3'])).code, 0);
  t.equal(await version('client3'), '1.2.1');
  const back = await stack.cli(['rollback', 'client3']);
  t.equal(back.code, 0, back.stderr);
  t.match(back.stdout, /^client3: polls@1\.2\.1 \([0-9a-f]{16}\) -> polls@1\.2\.0 \([0-9a-f]{16}\), switched in \d+\.\d s\n$/);
  t.equal(await version('client3'), '1.2.0');
  const again = await stack.cli(['rollback', 'client3']);
  t.match(again.stderr, /^silo: tenant client3 has no previous release recorded/);
});

t.test('a broken release is one line, and no tenant is touched', async (t) => {
  const broken = pollsApp(t, { version: '9.9.9' });
  writeFileSync(join(broken, 'index.js'), "export const name = 'polls'; export const migrationsDir = '/nowhere';\n");
  const before = JSON.parse((await stack.cli(['tenant', 'list', '--json'])).stdout);
  const r = await stack.cli(['deploy', broken, '--all']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^silo: app \/.*: .*does not export plugin/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.same(JSON.parse((await stack.cli(['tenant', 'list', '--json'])).stdout), before, 'every tenant as it was');
  const none = await stack.cli(['deploy', broken]);
  t.match(none.stderr, /^silo: say which tenants: --tenant <name> \(repeatable\) or --all\n$/);
});
