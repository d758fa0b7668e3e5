/**
 * The audit log, as an operator sees it: the real `silo` CLI creates, suspends and removes
 * a tenant and fails once; `silo audit` shows who did what to which tenant and how it
 * ended, and the file holds no secret. Then many processes append at once while it rotates:
 * no line is torn, none is lost.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { makeSiloHome, root } from '../helpers/silo-home.js';
import { homePaths } from '../../src/common/paths.js';
import type { AuditEntry } from '../../src/events/audit.js';

t.setTimeout(150_000);

const me = userInfo().username;

t.test('CLI operations are audited with who, what, target and result, and no secret', async (t) => {
  const home = await makeSiloHome(t);
  const paths = homePaths(home.cfg.home);
  const audit = async (...args: string[]) => {
    const r = await home.cli(['audit', '--json', ...args]);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as AuditEntry[];
  };
  t.same(await audit(), [], 'nothing before the first operation');
  t.equal((await home.cli(['audit'])).stdout, 'nothing recorded yet\n');

  const created = await home.cli(['tenant', 'create', 'acme']);
  t.equal(created.code, 0, created.stderr);
  t.teardown(() => home.cli(['tenant', 'remove', 'acme', '--yes']));
  const password = readFileSync(paths.tenantPassword('acme'), 'utf8').trim();
  t.ok(password.length >= 16, 'the tenant has a password to look for');

  t.equal((await home.cli(['tenant', 'suspend', 'acme', '--message', 'maintenance'])).code, 0);
  const unknown = await home.cli(['tenant', 'suspend', 'nobody']);
  t.same([unknown.code, unknown.stderr], [1, 'silo: no tenant named "nobody"\n']);
  // A failure inside the operation, after its locks: acme's own host as another's domain.
  const clash = await home.cli(['tenant', 'create', 'other', '--domain', 'acme.localhost']);
  t.equal(clash.code, 1);
  t.equal((await home.cli(['tenant', 'resume', 'acme'])).code, 0);
  const removed = await home.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(removed.code, 0, removed.stderr);

  const entries = await audit();
  t.same(
    entries.map((e) => [e.who, e.what, e.target, e.result]),
    [
      [me, 'tenant.create', 'acme', 'ok'],
      [me, 'tenant.suspend', 'acme', 'ok'],
      [me, 'tenant.suspend', 'nobody', 'error'],
      [me, 'tenant.create', 'other', 'error'],
      [me, 'tenant.resume', 'acme', 'ok'],
      [me, 'tenant.remove', 'acme', 'ok'],
    ],
    'one entry per command, in order',
  );
  t.equal(entries[2]!.error, 'no tenant named "nobody"');
  t.equal(entries[3]!.error, 'domain "acme.localhost" already belongs to tenant "acme"');
  for (const e of entries) {
    t.ok(Date.parse(e.at) > Date.now() - 600_000 && Date.parse(e.at) <= Date.now(), `${e.what}: a time`);
    t.type(e.ms, 'number');
  }
  t.same(
    entries.map((e) => e.at),
    entries.map((e) => e.at).sort(),
    'in the order they ended',
  );

  const mine = await audit('--tenant', 'acme');
  t.same(mine.map((e) => e.what), ['tenant.create', 'tenant.suspend', 'tenant.resume', 'tenant.remove'], '--tenant: only acme');
  const table = (await home.cli(['audit', '--tenant', 'nobody'])).stdout.split('\n');
  t.match(table[0], /^AT\s+WHO\s+WHAT\s+TARGET\s+RESULT$/);
  t.match(table[1], new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+${me}\\s+tenant.suspend\\s+nobody\\s+error: no tenant named "nobody"$`));
  const bad = await home.cli(['audit', '--tenant', 'Not A Name']);
  t.same([bad.code, bad.stderr.split('\n').length], [1, 2], 'a bad name: one line');

  const file = readFileSync(paths.audit, 'utf8');
  t.notOk(file.includes(password), "the tenant's database password is nowhere in the audit log");
  t.equal(statSync(paths.audit).mode & 0o777, 0o600, 'the file is 0600');
  t.equal(statSync(paths.events).mode & 0o777, 0o700, 'its folder 0700');
});

t.test('the actor a caller passes is who; concurrent writers across a rotation lose and tear no line', async (t) => {
  const home = await makeSiloHome(t, { startDatabase: false });
  const writers = 6;
  const each = 150;
  // ~2.5 KB lines, 64K per file: the log rotates about 35 times while six processes append.
  const script = `
    import { audit } from ${JSON.stringify(join(root, 'dist/events/audit.js'))};
    const cfg = { home: process.env.SILO_HOME, logMax: '64K', logFiles: 100, actor: 'token:w' + process.env.W };
    for (let i = 0; i < ${each}; i++) await audit(cfg, { what: 'test.append', target: 'n' + i, result: 'ok', details: { pad: 'x'.repeat(2500) } });
  `;
  await Promise.all(
    Array.from({ length: writers }, (_, w) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...home.env, W: String(w) }, stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${w} exited ${code}`))));
      }),
    ),
  );
  const dir = homePaths(home.cfg.home).events;
  const files = readdirSync(dir).filter((f) => f.startsWith('audit.log'));
  t.ok(files.filter((f) => /^audit\.log\.\d+$/.test(f)).length >= 10, `it rotated (${files.length} files)`);
  let lines = 0;
  const seen = new Set<string>();
  for (const f of files) {
    if (!/^audit\.log(\.\d+)?$/.test(f)) continue;
    t.ok(statSync(join(dir, f)).size <= 64 * 1024 + writers * 4096, `${f} within its size (plus lines in flight)`);
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)) {
      lines++;
      const e = JSON.parse(line) as AuditEntry; // throws on a torn line
      seen.add(`${e.who}/${e.target}`);
    }
  }
  t.equal(lines, writers * each, 'every line is there');
  t.equal(seen.size, writers * each, 'each writer, each entry, once');
  t.ok(seen.has('token:w0/n0') && seen.has(`token:w${writers - 1}/n${each - 1}`), 'who is the actor passed');
  const r = await home.cli(['audit', '--json']);
  t.equal((JSON.parse(r.stdout) as AuditEntry[]).length, writers * each, 'silo audit reads the rotated files too');
});
