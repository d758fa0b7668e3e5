/**
 * The day-2 operations on one tenant against one real stack (PM2, nginx, embedded
 * PostgreSQL): suspend and resume, restore (including refusals that change nothing, and
 * a removed tenant brought back). Every other tenant keeps answering throughout.
 */
import t from 'tap';
import { chmodSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { pm2Cli, restarts, serverUrl, siloStatus, withTenantDb } from '../helpers/resilience.js';

t.setTimeout(170_000);
const stack = await startStack(t);
const api = (tenant: string, path: string, opts: Parameters<typeof stack.http>[2] = {}) => stack.http(`${tenant}.localhost`, path, opts);
const proxyConfig = () => readFileSync(join(stack.home, 'proxy', 'nginx', 'tenants.conf'), 'utf8');
const databases = () => withTenantDb(serverUrl(stack), 'postgres', async (sql) => (await sql<{ datname: string }[]>`select datname from pg_database where datname like 'client%' order by 1`).map((r) => r.datname));
const questions = async (tenant: string) => ((await api(tenant, '/api/polls')).json() as { question: string }[]).map((p) => p.question);

t.test('suspend: 503 with Retry-After, HTML for a browser and JSON for the API; others untouched; resume', async (t) => {
  const before = proxyConfig();
  const unknown = await stack.cli(['tenant', 'suspend', 'nobody']);
  t.same([unknown.code, unknown.stderr], [1, 'silo: no tenant named "nobody"\n']);
  const badMessage = await stack.cli(['tenant', 'suspend', 'client1', '--message', 'two\nlines']);
  t.same([badMessage.code, badMessage.stderr], [1, 'silo: the message must be 1 to 300 characters on one line\n']);
  t.equal(proxyConfig(), before, 'refusals leave the proxy config alone');

  const r = await stack.cli(['tenant', 'suspend', 'client1', '--message', 'Back at 17:00 "UTC" $host']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'suspended client1: the proxy answers its hosts 503\n');
  const json = await api('client1', '/api/polls');
  t.equal(json.status, 503);
  t.equal(json.headers['retry-after'], '300');
  t.match(json.headers['content-type'], /application\/json/);
  t.same(json.json(), { statusCode: 503, error: 'Service Unavailable', message: 'Back at 17:00 "UTC" $host', suspended: true });
  const page = await api('client1', '/', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  t.equal(page.status, 503);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.text, /<h1>client1 is unavailable<\/h1><p>Back at 17:00 &#34;UTC&#34; &#36;host<\/p>/);
  const vote = await api('client1', '/api/polls', { method: 'POST', body: { question: 'Q?', choices: ['a', 'b'] } });
  t.equal(vote.status, 503, 'writes too');
  t.equal((await api('client2', '/api/tenant')).json().tenant, 'client2', 'client2 serves');

  const s = await siloStatus(stack);
  t.match(s.tenants.find((x) => x.name === 'client1'), { state: 'suspended', suspended: 'operator', worker: 'online' });
  t.match((await stack.cli(['status'])).stdout, /client1\s+suspended\s+online/);
  t.equal((await stack.cli(['tenant', 'suspend', 'client1', '--message', 'Back at 17:00 "UTC" $host'])).stdout, 'client1 was already suspended\n');
  const create = await stack.cli(['tenant', 'create', 'client1']);
  t.same([create.code, create.stdout.startsWith('tenant client1 already exists')], [0, true], 'create on a suspended tenant stays a quiet no-op');
  t.equal((await api('client1', '/api/tenant')).status, 503, 'and leaves it suspended');

  const resumed = await stack.cli(['tenant', 'resume', 'client1']);
  t.same([resumed.code, resumed.stdout], [0, 'resumed client1\n']);
  t.equal((await api('client1', '/api/tenant')).json().tenant, 'client1');
  t.equal((await stack.cli(['tenant', 'resume', 'client1'])).stdout, 'client1 was not suspended\n');
  t.equal(proxyConfig(), before, 'the proxy config is back to what it was');
});

t.test('restore --latest: the data of the backup, the replaced database kept, only this tenant touched', async (t) => {
  const restartsBefore = await restarts(stack);
  t.equal((await api('client1', '/api/polls', { method: 'POST', body: { question: 'Kept by the backup?', choices: ['a', 'b'] } })).status, 201);
  const backup = await stack.cli(['tenant', 'backup', 'client1']);
  t.equal(backup.code, 0, backup.stderr);
  t.equal((await api('client1', '/api/polls', { method: 'POST', body: { question: 'Written after the backup', choices: ['a', 'b'] } })).status, 201);
  const client2Before = await questions('client2');

  const noYes = await stack.cli(['tenant', 'restore', 'client1', '--latest']);
  t.same([noYes.code, noYes.stderr], [1, 'silo: refusing to restore over tenant "client1" without --yes (its current data is kept as client1_previous)\n']);

  const r = await stack.cli(['tenant', 'restore', 'client1', '--latest', '--yes', '--json']);
  t.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  t.match(result, { name: 'client1', schemaVersion: 1, broughtBack: false, previousKept: true });
  t.ok(result.suspendedMs > 0, `unavailable for ${Math.round(result.suspendedMs)} ms`);
  const after = await questions('client1');
  t.ok(after.includes('Kept by the backup?'));
  t.notOk(after.includes('Written after the backup'));
  t.equal((await api('client1', '/api/polls', { method: 'POST', body: { question: 'Written after the restore', choices: ['a', 'b'] } })).status, 201, 'it takes writes again');
  t.same(await questions('client2'), client2Before, 'client2 untouched');
  t.same(await databases(), ['client1', 'client1_previous', 'client2']);
  const prev = await withTenantDb(serverUrl(stack), 'postgres', (sql) => sql`select datallowconn from pg_database where datname = 'client1_previous'`);
  t.same(prev, [{ datallowconn: false }], 'the replaced database takes no connections');
  const s = await siloStatus(stack);
  t.equal(s.tenants.find((x) => x.name === 'client1')!.state, 'ready', 'not left suspended');
  t.same(await restarts(stack), restartsBefore, 'no worker restarted');

  const discard = await stack.cli(['tenant', 'restore', 'client1', '--discard-previous']);
  t.same([discard.code, discard.stdout], [0, 'dropped client1_previous\n']);
  t.same(await databases(), ['client1', 'client2']);
});

for (const step of ['swap', 'resume']) {
  t.test(`a restore killed at ${step} is finished by running it again, keeping what it replaced`, async (t) => {
    const post = (q: string) => api('client1', '/api/polls', { method: 'POST', body: { question: q, choices: ['a', 'b'] } });
    t.equal((await post(`in the backup (${step})`)).status, 201);
    t.equal((await stack.cli(['tenant', 'backup', 'client1'])).code, 0);
    t.equal((await post(`after the backup (${step})`)).status, 201);
    const killed = await stack.cli(['tenant', 'restore', 'client1', '--latest', '--yes'], { SILO_TEST_CRASH_AT: `restore:${step}` });
    t.not(killed.code, 0, 'killed');
    t.equal((await api('client1', '/api/tenant')).status, 503, 'suspended meanwhile');
    const r = await stack.cli(['tenant', 'restore', 'client1', '--latest', '--yes']);
    t.equal(r.code, 0, r.stderr);
    const qs = await questions('client1');
    t.ok(qs.includes(`in the backup (${step})`) && !qs.includes(`after the backup (${step})`), 'the backup\'s data, served');
    const previous = await withTenantDb(serverUrl(stack), 'postgres', async (sql) => {
      await sql.unsafe('alter database client1_previous allow_connections true');
      return true;
    });
    t.ok(previous);
    const kept = await withTenantDb(serverUrl(stack), 'client1_previous', (sql) => sql`select question from polls where question = ${`after the backup (${step})`}`);
    t.equal(kept.length, 1, 'the data it replaced is kept as client1_previous');
    await withTenantDb(serverUrl(stack), 'postgres', (sql) => sql.unsafe('alter database client1_previous allow_connections false'));
    t.equal((await stack.cli(['tenant', 'restore', 'client1', '--discard-previous'])).code, 0);
  });
}

t.test('a corrupt or truncated dump is refused by its checksum, and nothing changes', async (t) => {
  const entry = JSON.parse((await stack.cli(['backup', 'list', '--tenant', 'client1', '--json'])).stdout)[0];
  const good = readFileSync(entry.file);
  t.teardown(() => writeFileSync(entry.file, good));
  const dataBefore = await questions('client1');
  const proxyBefore = proxyConfig();

  const flipped = Buffer.from(good);
  const middle = Math.floor(flipped.length / 2);
  flipped.writeUInt8(flipped.readUInt8(middle) ^ 0x01, middle);
  writeFileSync(entry.file, flipped);
  const corrupt = await stack.cli(['tenant', 'restore', 'client1', '--from', entry.file, '--yes']);
  t.equal(corrupt.code, 1);
  t.match(corrupt.stderr, /^silo: \S+ does not match its manifest entry \(\d+ bytes, sha256 [0-9a-f]{12}…; recorded \d+ bytes, [0-9a-f]{12}…\): refusing to restore it; nothing was changed\n$/);

  truncateSync(entry.file, Math.floor(good.length / 2));
  const truncated = await stack.cli(['tenant', 'restore', 'client1', '--latest', '--yes']);
  t.equal(truncated.code, 1);
  t.match(truncated.stderr, /does not match its manifest entry/);

  t.same(await questions('client1'), dataBefore, 'data unchanged');
  t.equal(proxyConfig(), proxyBefore, 'never suspended');
  t.same(await databases(), ['client1', 'client2'], 'no side database left');
});

t.test('restore refuses what it cannot check: no backups, a file without an entry, another tenant\'s backup', async (t) => {
  const none = await stack.cli(['tenant', 'restore', 'ghost', '--latest', '--yes']);
  t.same([none.code, none.stderr], [1, 'silo: no backups of "ghost" (silo backup list)\n']);
  const client2Backup = await stack.cli(['tenant', 'backup', 'client2', '--json']);
  const file = JSON.parse(client2Backup.stdout).file as string;
  const other = await stack.cli(['tenant', 'restore', 'client1', '--from', file, '--yes']);
  t.same([other.code, other.stderr], [1, `silo: ${file} is a backup of "client2", not of "client1"\n`]);
  const loose = join(stack.home, 'loose.dump');
  writeFileSync(loose, readFileSync(file));
  const unrecorded = await stack.cli(['tenant', 'restore', 'client2', '--from', loose, '--yes']);
  t.equal(unrecorded.code, 1);
  t.match(unrecorded.stderr, /has no manifest entry beside it/);
  const neither = await stack.cli(['tenant', 'restore', 'client2', '--yes']);
  t.match(neither.stderr, /^silo: say which backup: --latest or --from <file>/);
});

t.test('a removed tenant comes back from its final dump: role, database, registry, worker, route', async (t) => {
  t.equal((await stack.cli(['tenant', 'create', 'gone'])).code, 0);
  t.equal((await api('gone', '/api/polls', { method: 'POST', body: { question: 'Will I come back?', choices: ['yes', 'no'] } })).status, 201);
  const removed = await stack.cli(['tenant', 'remove', 'gone', '--yes']);
  t.equal(removed.code, 0, removed.stderr);
  t.equal((await api('gone', '/api/tenant')).status, 404, 'gone from the proxy');
  const final = JSON.parse((await stack.cli(['backup', 'list', '--tenant', 'gone', '--json'])).stdout);
  t.match(final, [{ kind: 'final', tenant: 'gone' }], 'remove recorded one final dump');

  const r = await stack.cli(['tenant', 'restore', 'gone', '--latest', '--yes']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /restored gone from \S+ \(taken \S+, schema 1\); the tenant is back/);
  t.same(await questions('gone'), ['Will I come back?'], 'its data, through the proxy');
  const s = await siloStatus(stack);
  t.match(s.tenants.find((x) => x.name === 'gone'), { state: 'ready', worker: 'online' });
  const dbs = await withTenantDb(serverUrl(stack), 'postgres', (sql) => sql`select datname from pg_database where datname like 'gone%'`);
  t.same(dbs.map((d) => d.datname), ['gone'], 'no stand-in left behind');
});

t.test('repair finds what an operator broke, fixes it, and says so; a second run finds nothing', async (t) => {
  const admin = serverUrl(stack);
  chmodSync(join(stack.home, 'secrets', 'tenants', 'client2.password'), 0o644);
  await withTenantDb(admin, 'postgres', async (sql) => {
    await sql.unsafe('alter role client2 createdb connection limit 3');
    await sql.unsafe('grant connect on database client2 to public');
    await sql.unsafe('grant connect on database client2 to client1');
  });
  t.equal((await pm2Cli(stack, ['delete', 'tenant-client2'])).code, 0);
  // (No request to client2 here: one would wake its worker through the proxy's waker.)

  const unknown = await stack.cli(['tenant', 'repair', 'nobody']);
  t.same([unknown.code, unknown.stderr], [1, 'silo: no tenant named "nobody"\n']);
  const neither = await stack.cli(['tenant', 'repair']);
  t.same([neither.code, neither.stderr], [1, 'silo: say which tenant: silo tenant repair <name>, or --all\n']);

  const r = await stack.cli(['tenant', 'repair', 'client2']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^client2: \d+ checks, 4 fixed\n/);
  // Under root the password file belongs to the tenant's own Unix user, mode 0400.
  const want = process.getuid?.() === 0 ? 0o400 : 0o600;
  t.match(r.stdout, new RegExp(`  fixed password-file: its mode was 644: now ${want.toString(8)}\n`));
  t.match(r.stdout, /  fixed role: it had createdb; its connection limit was 3\n/);
  t.match(r.stdout, /  fixed grants: PUBLIC could connect; client1 could connect\n/);
  t.match(r.stdout, /  fixed worker: it was not running: started\n/);
  t.notMatch(r.stdout, /fixed route/, 'its route was never lost');
  t.equal((await api('client2', '/api/tenant')).json().tenant, 'client2', 'client2 serves again');
  t.equal(statSync(join(stack.home, 'secrets', 'tenants', 'client2.password')).mode & 0o777, want);
  const acl = await withTenantDb(admin, 'postgres', (sql) => sql`select datacl::text as acl from pg_database where datname = 'client2'`);
  t.notMatch(acl[0]!.acl, /(^|[{,])=|client1=/, 'neither PUBLIC nor client1 can connect');

  const again = await stack.cli(['tenant', 'repair', '--all', '--json']);
  t.equal(again.code, 0, again.stderr);
  for (const res of JSON.parse(again.stdout)) t.same(res.findings.filter((f: { fixed: boolean }) => f.fixed), [], `${res.tenant}: nothing to fix`);
  t.match((await stack.cli(['tenant', 'repair', 'client1'])).stdout, /^client1: all \d+ checks passed, nothing to fix\n$/);
});
