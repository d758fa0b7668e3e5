/**
 * The worker's own environment check gives what env-schema (Ajv) gave for the same
 * schema: the same values, defaults and types, and the same messages, on good and bad
 * environments. env-schema stays the reference (the control plane still uses it).
 */
import t from 'tap';
import envSchema from 'env-schema';
import { configSchema } from '../../src/worker/config.js';
import { validateEnv } from '../../src/worker/env-schema.js';

function reference(env: Record<string, string | undefined>): { value?: Record<string, unknown>; errors: string[] } {
  try {
    const value = envSchema<Record<string, unknown>>({ schema: structuredClone(configSchema), data: env, env: false, dotenv: false });
    return { value: { ...value }, errors: [] };
  } catch (err) {
    const errors = ((err as { errors?: { instancePath: string; message: string }[] }).errors ?? []).map((e) => (e.instancePath ? `${e.instancePath.slice(1)} ${e.message}` : e.message));
    return { errors };
  }
}

const base = { TENANT: 'acme', PORT: '4100', DB_PASSWORD_FILE: '/x/pw' };
const cases: Record<string, string | undefined>[] = [
  base,
  { ...base, SOCKET: '/run/x.sock', ACTIVITY_FILE: '/run/a', HOST: '0.0.0.0', TENANT_HOSTS: 'a.b,c.d' },
  { ...base, DB_PORT: '6543', DB_POOL_MAX: '2', DB_CONNECT_TIMEOUT_S: '0.5', DB_IDLE_TIMEOUT_S: '0', DB_STATEMENT_TIMEOUT_MS: '100' },
  { ...base, REQUEST_TIMEOUT_MS: '700', SHUTDOWN_GRACE_MS: '900', LOG_LEVEL: 'warn', LOG_REQUESTS: 'true', BODY_LIMIT: '2048' },
  { ...base, LOG_REQUESTS: 'false', DB_SSLMODE: 'verify-full', DB_SSLROOTCERT: '/ca.pem', APP_MODULE: '/app/index.js', OTHER: 'x' },
  { ...base, DB_SSLMODE: '' },
  { TENANT: 'Acme!', PORT: 'eighty', LOG_LEVEL: 'loud' },
  { PORT: '4100', DB_PASSWORD_FILE: '/x/pw' },
  { ...base, SOCKET: 'relative.sock' },
  { ...base, PORT: '70000', DB_POOL_MAX: '0', DB_CONNECT_TIMEOUT_S: '0', BODY_LIMIT: '12' },
  { ...base, PORT: '1.5', DB_PORT: '', LOG_REQUESTS: 'yes', DB_CONNECT_TIMEOUT_S: 'abc' },
  { ...base, HOST: '', DB_PASSWORD_FILE: '', SOCKET: '/' + 'x'.repeat(200) },
  { ...base, DB_SSLMODE: 'sometimes', REQUEST_TIMEOUT_MS: '10', SHUTDOWN_GRACE_MS: '-1' },
  { ...base, TENANT: undefined },
];

for (const env of cases) {
  t.test(JSON.stringify(env), async (t) => {
    const ref = reference(env);
    const ours = validateEnv(configSchema, env);
    t.same([...ours.errors].sort(), [...ref.errors].sort(), 'the same messages');
    if (ref.value) t.same(ours.value, ref.value, 'the same values');
  });
}
