/**
 * `silo server add <name> -` and `silo tenant move` against one real stack and a second
 * embedded PostgreSQL server: the data arrives, the source goes (or stays with
 * --keep-source); a target that dies half-way leaves the tenant serving from its source;
 * a move killed at any step is finished by running it again.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { siloBin, type CliResult } from '../helpers/silo-home.js';
import { serverUrl, siloStatus, waitUntil, withTenantDb } from '../helpers/resilience.js';

t.setTimeout(170_000);
const stack = await startStack(t);
const pg2 = await startTestPostgres(t);
const api = (tenant: string, path: string, opts: Parameters<typeof stack.http>[2] = {}) => stack.http(`${tenant}.localhost`, path, opts);
const registry = async () => JSON.parse((await import('node:fs')).readFileSync(join(stack.home, 'registry.json'), 'utf8'));

function cliWithStdin(args: string[], input: string, extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [siloBin, ...args], { env: { ...stack.env, ...extra }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a refusal before reading it: the exit code and stderr say so
    child.stdin.end(input);
  });
}

async function snapshot(tenant: string) {
  const polls = (await api(tenant, '/api/polls')).json() as { question: string; choices: { votes: number }[] }[];
  return polls.map((p) => [p.question, p.choices.map((c) => c.votes)]);
}

const databasesOn = (url: string) => withTenantDb(url, 'postgres', async (sql) => (await sql<{ d: string }[]>`select datname as d from pg_database where datname like 'client%' order by 1`).map((r) => r.d));
const rolesOn = (url: string) => withTenantDb(url, 'postgres', async (sql) => (await sql<{ r: string; login: boolean }[]>`select rolname as r, rolcanlogin as login from pg_roles where rolname like 'client%' and rolname not like '%\\_dump' order by 1`).map((r) => `${r.r}${r.login ? '' : ' (nologin)'}`));

await t.test('server add <name> -: the admin URL from standard input, or SILO_SERVER_URL', async (t) => {
  const none = await stack.cli(['server', 'add', 'db2']);
  t.same([none.code, none.stderr], [1, 'silo: give the admin URL on standard input (silo server add <name> - < url-file) or in SILO_SERVER_URL\n']);
  const empty = await cliWithStdin(['server', 'add', 'db2', '-'], '\n');
  t.same([empty.code, empty.stderr], [1, 'silo: no admin URL on standard input\n']);
  const added = await cliWithStdin(['server', 'add', 'db2', '-'], `${pg2.adminUrl}\n`);
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, new RegExp(`^added server db2 \\(127\\.0\\.0\\.1:${pg2.port}, PostgreSQL \\d+`));
  t.notOk(added.stdout.includes(new URL(pg2.adminUrl).password), 'the password is never printed');
  const again = await stack.cli(['server', 'add', 'db2'], { SILO_SERVER_URL: pg2.adminUrl });
  t.equal(again.code, 0, again.stderr);
});

await t.test('move: the data arrives, the source goes, other tenants never notice', async (t) => {
  const poll = (await api('client1', '/api/polls')).json()[0];
  for (let i = 0; i < 5; i++) await api('client1', `/api/polls/${poll.id}/votes`, { method: 'POST', body: { choiceId: poll.choices[0].id, voter: `mover-${i}` } });
  const before = await snapshot('client1');
  const client2 = await snapshot('client2');

  const unknownServer = await stack.cli(['tenant', 'move', 'client1', '--to', 'nowhere']);
  t.same([unknownServer.code, unknownServer.stderr], [1, 'silo: unknown server "nowhere" (see silo server list)\n']);
  const unknownTenant = await stack.cli(['tenant', 'move', 'nobody', '--to', 'db2']);
  t.same([unknownTenant.code, unknownTenant.stderr], [1, 'silo: no tenant named "nobody"\n']);

  const r = await stack.cli(['tenant', 'move', 'client1', '--to', 'db2', '--json']);
  t.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  t.match(result, { name: 'client1', from: 'local', to: 'db2', moved: true, sourceKept: false });
  t.ok(result.suspendedMs > 0 && result.suspendedMs < result.totalMs, `unavailable ${Math.round(result.suspendedMs)} of ${Math.round(result.totalMs)} ms`);
  t.same(await snapshot('client1'), before, 'same polls and votes, through the proxy');
  t.same(await snapshot('client2'), client2);
  t.equal((await api('client1', `/api/polls/${poll.id}/votes`, { method: 'POST', body: { choiceId: poll.choices[0].id, voter: 'after-move' } })).status, 201, 'takes writes');
  const s = await siloStatus(stack);
  t.match(s.tenants.find((x) => x.name === 'client1'), { server: 'db2', state: 'ready', worker: 'online' });
  t.notOk((await registry()).tenants.client1.moving, 'the move is over');
  t.same(await databasesOn(serverUrl(stack)), ['client2'], 'the source database is gone');
  t.same(await rolesOn(serverUrl(stack)), ['client2'], 'and its role');
  t.same(await databasesOn(pg2.adminUrl), ['client1']);
  t.match((await stack.cli(['tenant', 'repair', 'client1'])).stdout, /^client1: all \d+ checks passed, nothing to fix\n$/, 'the moved tenant is whole on db2 (grants, hidden catalogs, worker, route)');
  const again = await stack.cli(['tenant', 'move', 'client1', '--to', 'db2']);
  t.same([again.code, again.stdout], [0, 'client1 already lives on db2\n']);
});

await t.test('move --keep-source keeps the old copy, closed to the tenant role', async (t) => {
  const r = await stack.cli(['tenant', 'move', 'client1', '--to', 'local', '--keep-source']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /moved client1 from db2 to local in \d+ ms, unavailable for \d+ ms; its database on db2 is kept/);
  t.same(await databasesOn(pg2.adminUrl), ['client1']);
  t.same(await rolesOn(pg2.adminUrl), ['client1 (nologin)']);
  t.equal((await api('client1', '/api/tenant')).json().tenant, 'client1');
});

await t.test('a target that dies half-way leaves the tenant serving from its source; the move then completes', async (t) => {
  const before = await snapshot('client1');
  const hold = join(stack.home, 'hold-move-final-copy');
  const moving = stack.cli(['tenant', 'move', 'client1', '--to', 'db2'], { SILO_TEST_HOLD_AT: 'move:final-copy' });
  await waitUntil('the move to reach its final copy', 60_000, () => existsSync(hold));
  t.equal((await api('client1', '/api/tenant')).status, 503, 'suspended for the final copy');
  await pg2.stop(); // the target dies
  rmSync(hold);
  const r = await moving;
  t.equal(r.code, 1);
  t.match(r.stderr, /^silo: moving "client1" to "db2" failed: .*; it still serves from "local"\n$/);
  t.same(await snapshot('client1'), before, 'serving from the source, data intact');
  t.equal((await api('client1', '/api/polls', { method: 'POST', body: { question: 'Still here?', choices: ['yes', 'no'] } })).status, 201, 'and writable');
  const reg = await registry();
  t.equal(reg.tenants.client1.server, 'local');
  t.notOk(reg.tenants.client1.moving);
  t.notOk(reg.tenants.client1.suspended);

  await pg2.start();
  const retry = await stack.cli(['tenant', 'move', 'client1', '--to', 'db2']);
  t.equal(retry.code, 0, retry.stderr);
  t.equal((await registry()).tenants.client1.server, 'db2');
  t.same((await snapshot('client1')).length, before.length + 1);
});

for (const step of ['final-copy', 'verify', 'switch', 'resume', 'drop-source']) {
  await t.test(`a move killed at ${step} is finished by running it again`, async (t) => {
    const from = (await registry()).tenants.client1.server as string;
    const to = from === 'db2' ? 'local' : 'db2';
    const before = await snapshot('client1');
    const killed = await stack.cli(['tenant', 'move', 'client1', '--to', to], { SILO_TEST_CRASH_AT: `move:${step}` });
    t.not(killed.code, 0, 'killed');
    t.ok((await registry()).tenants.client1.moving, 'the registry remembers the move');
    const wrongWay = await stack.cli(['tenant', 'move', 'client1', '--to', 'local-x']);
    t.equal(wrongWay.code, 1);
    const r = await stack.cli(['tenant', 'move', 'client1', '--to', to]);
    t.equal(r.code, 0, r.stderr);
    const reg = await registry();
    t.equal(reg.tenants.client1.server, to);
    t.notOk(reg.tenants.client1.moving);
    t.notOk(reg.tenants.client1.suspended, 'not left suspended');
    t.same(await snapshot('client1'), before, 'serving, data intact');
    const fromUrl = from === 'db2' ? pg2.adminUrl : serverUrl(stack);
    t.notOk((await databasesOn(fromUrl)).includes('client1'), 'the source copy is gone');
    t.same((await databasesOn(to === 'db2' ? pg2.adminUrl : serverUrl(stack))).filter((d) => d.startsWith('client1')), ['client1'], 'no side database left on the target');
  });
}

await t.test('two moves of one tenant at once: one moves it, the other finds it there', async (t) => {
  const from = (await registry()).tenants.client1.server as string;
  const to = from === 'db2' ? 'local' : 'db2';
  const [a, b] = await Promise.all([stack.cli(['tenant', 'move', 'client1', '--to', to]), stack.cli(['tenant', 'move', 'client1', '--to', to])]);
  t.same([a.code, b.code], [0, 0], `${a.stderr}${b.stderr}`);
  t.same([a.stdout, b.stdout].map((o) => (o.includes('already lives on') ? 'there' : o.includes('moved client1') ? 'moved' : o)).sort(), ['moved', 'there']);
  t.equal((await registry()).tenants.client1.server, to);
  t.equal((await api('client1', '/api/tenant')).json().tenant, 'client1');
});
