import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, isHostName, loadConfig } from '../../src/worker/config.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function secret(name: string, mode: number, content = 'pw\n'): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

const goodFile = secret('ok', 0o600);
const base = { TENANT: 'acme', PORT: '4100', DB_PASSWORD_FILE: goodFile };

function configError(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('the minimal environment gets the documented defaults', async (t) => {
  t.same(loadConfig(base), {
    tenant: 'acme',
    listen: { host: '127.0.0.1', port: 4100 },
    tenantHosts: ['acme.localhost'],
    db: {
      host: '127.0.0.1',
      port: 5432,
      database: 'acme',
      user: 'acme',
      passwordFile: goodFile,
      poolMax: 4,
      connectTimeoutS: 3,
      idleTimeoutS: 5,
      maxLifetimeS: 60,
      statementTimeoutMs: 5000,
    },
    requestTimeoutMs: 10000,
    shutdownGraceMs: 5000,
    logLevel: 'info',
    logRequests: false,
    bodyLimit: 65536,
  });
});

t.test('SOCKET (what silo sets) wins over PORT; one of them is required', async (t) => {
  const c = loadConfig({ ...base, SOCKET: '/run/silo/x/acme/http.sock', ACTIVITY_FILE: '/run/silo/x/acme/activity' });
  t.same([c.listen, c.activityFile], [{ socket: '/run/silo/x/acme/http.sock' }, '/run/silo/x/acme/activity']);
  t.match(configError({ TENANT: 'acme', DB_PASSWORD_FILE: goodFile }), /'SOCKET' or 'PORT'/);
  t.match(configError({ ...base, SOCKET: 'relative.sock' }), /SOCKET must match pattern/);
});

t.test('every variable is read and typed', async (t) => {
  const c = loadConfig({
    ...base,
    HOST: '0.0.0.0',
    TENANT_HOSTS: 'Acme.Example.COM., acme.localhost,acme.example.com',
    DB_HOST: 'db.internal',
    DB_PORT: '6543',
    DB_NAME: 'acme_db',
    DB_USER: 'acme_role',
    DB_POOL_MAX: '2',
    DB_CONNECT_TIMEOUT_S: '0.5',
    DB_STATEMENT_TIMEOUT_MS: '100',
    REQUEST_TIMEOUT_MS: '700',
    SHUTDOWN_GRACE_MS: '900',
    LOG_LEVEL: 'warn',
    LOG_REQUESTS: 'true',
    BODY_LIMIT: '2048',
    SOMETHING_ELSE: 'ignored',
  });
  t.same(c.tenantHosts, ['acme.example.com', 'acme.localhost'], 'normalised and deduplicated');
  t.match(c, {
    listen: { host: '0.0.0.0', port: 4100 },
    db: { host: 'db.internal', port: 6543, database: 'acme_db', user: 'acme_role', poolMax: 2, connectTimeoutS: 0.5, statementTimeoutMs: 100 },
    requestTimeoutMs: 700,
    shutdownGraceMs: 900,
    logLevel: 'warn',
    logRequests: true,
    bodyLimit: 2048,
  });
  t.notOk('SOMETHING_ELSE' in c);
});

t.test('a missing TENANT is one clear line', async (t) => {
  const msg = configError({ PORT: '4100', DB_PASSWORD_FILE: goodFile });
  t.equal(msg, "must have required property 'TENANT'");
});

t.test('every problem is listed in the same line', async (t) => {
  const msg = configError({ TENANT: 'Acme!', PORT: 'eighty', LOG_LEVEL: 'loud' });
  t.match(msg, /TENANT must match pattern/);
  t.match(msg, /PORT must be integer/);
  t.match(msg, /LOG_LEVEL must be equal to one of the allowed values/);
  t.match(msg, /must have required property 'DB_PASSWORD_FILE'/);
  t.notMatch(msg, /\n/);
});

t.test('tenant names follow the DNS-label rule', async (t) => {
  for (const bad of ['a', '1abc', 'ab-', 'a_b', 'ABC', 'a'.repeat(33)]) {
    t.match(configError({ ...base, TENANT: bad }), /TENANT must match pattern/, bad);
  }
  t.equal(loadConfig({ ...base, TENANT: 'a'.repeat(32) }).tenant, 'a'.repeat(32));
});

t.test('TENANT_HOSTS refuses IP addresses and junk', async (t) => {
  for (const bad of ['127.0.0.1', 'acme.localhost,10.0.0.1', 'acme..localhost', 'acme.localhost:8080', 'exa mple.com', '-a.com']) {
    t.match(configError({ ...base, TENANT_HOSTS: bad }), /TENANT_HOSTS entry .* is not a host name/, bad);
  }
  t.ok(isHostName('client1.localhost'));
  t.notOk(isHostName('[::1]'));
});

t.test('the password file must be private, present and not empty', async (t) => {
  t.match(configError({ ...base, DB_PASSWORD_FILE: secret('open', 0o644) }), /DB_PASSWORD_FILE: .*open is readable by group or others \(mode 0644\); chmod 600 it/);
  t.match(configError({ ...base, DB_PASSWORD_FILE: secret('group', 0o640) }), /readable by group or others/);
  t.match(configError({ ...base, DB_PASSWORD_FILE: join(dir, 'missing') }), /DB_PASSWORD_FILE: cannot read .*missing: ENOENT/);
  t.match(configError({ ...base, DB_PASSWORD_FILE: secret('empty', 0o600, '\n') }), /is empty/);
  t.match(configError({ ...base, DB_PASSWORD_FILE: dir }), /is not a file/);
  t.equal(loadConfig({ ...base, DB_PASSWORD_FILE: secret('readonly', 0o400) }).db.passwordFile, join(dir, 'readonly'));
});

t.test('numbers out of range are refused', async (t) => {
  t.match(configError({ ...base, PORT: '70000' }), /PORT must be <= 65535/);
  t.match(configError({ ...base, DB_POOL_MAX: '0' }), /DB_POOL_MAX must be >= 1/);
  t.match(configError({ ...base, REQUEST_TIMEOUT_MS: '-5' }), /REQUEST_TIMEOUT_MS must be >= 50/);
});
