/**
 * A worker whose app cannot load exits with code 78 and one line, and PM2, given silo's
 * own worker definition (stop_exit_codes), does not restart it: no crash loop.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { compiledWorker, projectRoot } from './worker-process.js';
import { passwordFile } from './password-file.js';
import { freePort } from '../../src/common/ports.js';
import { loadConfig } from '../../src/common/config.js';
import { workerApps } from '../../src/pm2/ecosystem.js';

const base = mkdtempSync(join(tmpdir(), 'silo-bad-app-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const app = join(base, 'app');
mkdirSync(join(app, 'migrations'), { recursive: true });
writeFileSync(join(app, 'migrations', '0001_x.sql'), 'create table x (id int);');
writeFileSync(
  join(app, 'index.js'),
  "export default { name: 'x', plugin: async () => { throw new Error('no API key configured') }, migrationsDir: new URL('./migrations/', import.meta.url).pathname };\n",
);

t.test('the worker exits 78 with one line naming the app problem', async (t) => {
  const r = spawnSync(process.execPath, [compiledWorker], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, TENANT: 'acme', PORT: String(await freePort()), DB_PASSWORD_FILE: passwordFile(t), APP_MODULE: join(app, 'index.js') },
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(r.status, 78);
  t.equal(r.stderr, 'silo worker: the tenant app cannot start: no API key configured\n');
});

t.test('PM2 does not restart it (stop_exit_codes in the worker definition)', async (t) => {
  const home = join(base, 'home');
  const env = { PATH: process.env.PATH ?? '', HOME: base, PM2_HOME: join(base, 'pm2') };
  const pm2 = (args: string[]) => spawnSync(process.execPath, [join(projectRoot, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { env, encoding: 'utf8', timeout: 30_000 });
  t.teardown(() => {
    pm2(['kill']);
  });
  const cfg = loadConfig({ PATH: process.env.PATH, SILO_HOME: home, SILO_APP: app });
  mkdirSync(join(home, 'secrets', 'tenants'), { recursive: true });
  writeFileSync(join(home, 'secrets', 'tenants', 'acme.password'), 'pw\n', { mode: 0o600 });
  const reg = {
    version: 1 as const,
    servers: { local: { kind: 'embedded' as const, host: '127.0.0.1', port: 1 } },
    tenants: { acme: { server: 'local', port: await freePort(), domains: [], state: 'ready' as const, schemaVersion: 1, createdAt: new Date().toISOString() } },
  };
  const [def] = workerApps(cfg, reg, 'acme');
  t.same(def!.stop_exit_codes, [78]);
  // As the user running the test (its tenant's Unix user does not exist here): the
  // launcher's setpriv part left out.
  const args = def!.args as string[];
  const drop = args.indexOf('/usr/bin/setpriv');
  const asMe = { ...def!, args: drop < 0 ? args : [...args.slice(0, drop), ...args.slice(args.indexOf('--', drop) + 1)] };
  const file = join(base, 'acme.config.json');
  writeFileSync(file, JSON.stringify({ apps: [{ ...asMe, listen_timeout: 3000 }] }));
  t.equal(pm2(['start', file]).status, 0, 'pm2 start');
  const look = () => (JSON.parse(pm2(['jlist']).stdout.split('\n').find((l) => l.startsWith('[')) ?? '[]') as { name: string; pid: number; pm2_env?: { status?: string; restart_time?: number } }[]).find((p) => p.name === 'tenant-acme');
  for (let i = 0; i < 50 && ['online', 'launching'].includes(look()?.pm2_env?.status ?? 'online'); i++) await new Promise((r) => setTimeout(r, 100));
  // Give PM2 the time of several restarts (exp_backoff starts at 100 ms), then look again.
  await new Promise((r) => setTimeout(r, 2000));
  const proc = look();
  // PM2 7.0.4 labels it "waiting restart" when exp_backoff_restart_delay is set, yet
  // schedules no restart for a stop exit code (God.handleExit): what counts is below.
  t.ok(proc && ['stopped', 'waiting restart'].includes(proc.pm2_env?.status ?? ''), `not running (${proc?.pm2_env?.status})`);
  t.equal(proc?.pid, 0, 'no process');
  t.equal(proc?.pm2_env?.restart_time, 0, 'never restarted in 2 s (backoff would have restarted it 5 times)');
});
