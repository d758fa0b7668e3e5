/**
 * A hostile tenant app, for test/security/ only: `POST /_evil {"js": "<source>"}` runs the
 * source as the body of an async function inside the tenant's worker, as its Unix user,
 * with its database pool, and answers the function's result as JSON. Errors are answered
 * 200 `{error, code}` so a test sees what refused it. This is what "one tenant's app or a
 * dependency of it is compromised" means: anything this code can do, an attacker can.
 *
 * In scope of the function: `sql` (the worker's postgres.js pool: the tenant's database,
 * as the tenant's role), `postgres` (postgres.js, to open connections of one's own),
 * `require` (createRequire of this app), `siloRequire` (resolves from the worker's code),
 * `process`, `env` (the worker's environment at boot), `tenant`.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const name = 'evil';
export const migrationsDir = new URL('./migrations/', import.meta.url).pathname;

const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
const bootEnv = { ...process.env };

const bodySchema = {
  type: 'object',
  required: ['js'],
  additionalProperties: false,
  properties: { js: { type: 'string', minLength: 1, maxLength: 200000 } },
};

function plain(value) {
  return JSON.parse(
    JSON.stringify(value ?? null, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v)),
  );
}

export async function plugin(fastify) {
  const siloRequire = createRequire(join(process.cwd(), 'package.json'));
  // Resolved at first use: silo checks an app (registers it) elsewhere than a worker runs it.
  let pg;
  const postgres = (...args) => {
    pg ??= siloRequire('postgres');
    return (pg.default ?? pg)(...args);
  };
  const scope = {
    sql: fastify.sql,
    require: createRequire(import.meta.url),
    siloRequire,
    // postgres.js as the worker has it (its default export), to open connections of one's own
    postgres,
    process,
    env: bootEnv,
    tenant: fastify.tenant,
  };
  const names = Object.keys(scope);
  fastify.post('/_evil', { schema: { body: bodySchema } }, async (request) => {
    try {
      const fn = new AsyncFunction(...names, request.body.js);
      return { result: plain(await fn(...names.map((n) => scope[n]))) };
    } catch (err) {
      return { error: String(err?.message ?? err), code: err?.code ?? null };
    }
  });
  fastify.get('/api/tenant', async () => ({ tenant: fastify.tenant, app: 'evil' }));
  // What reached the worker of a client's request: its headers and the address the worker believes.
  fastify.get('/_evil/headers', async (request) => ({ headers: request.headers, ip: request.ip }));
}
