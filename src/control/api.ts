/**
 * The control API as a Fastify app (control-main.ts listens with it; tests build it).
 * Every route names the scope it needs and the tenant it acts on; one hook checks the
 * bearer token against that (401 without a valid token, 403 when its scope or tenant does
 * not allow it). Reads answer at once; every change is a job (202 with its id, polled at
 * /v1/jobs/<id>), run by jobs.ts through operations.ts. Errors are Fastify's JSON shape.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { STATUS_CODES } from 'node:http';
import type { SiloConfig } from '../common/config.js';
import { SiloError, NotFoundError } from '../common/errors.js';
import { InvalidNameError, validateTenantName } from '../common/names.js';
import { listBackups } from '../backup/manifest.js';
import { listDomains } from '../tenant/domain.js';
import { listTenants } from '../tenant/list.js';
import { knownTenant } from '../tenant/operation.js';
import { refusal, verifyToken, type Need, type Scope, type TokenInfo } from './tokens.js';
import { IdempotencyConflict, jobView, type JobStore } from './jobs.js';
import { OPERATIONS } from './operations.js';

/** What a route of the control API needs (Fastify route `config`). */
export interface ControlRouteConfig {
  scope: Scope;
  /** the tenant it acts on, from the request; absent: the fleet (or filtered by the token's tenant) */
  tenant?: (req: FastifyRequest) => string | undefined;
  /** reads that list: a tenant's token sees its own tenant's rows (no 403) */
  filtered?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenInfo;
  }
  interface FastifyInstance {
    /** every route of the control API, as registered (the OpenAPI test checks each is documented) */
    controlRoutes: { method: string; url: string }[];
  }
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof IdempotencyConflict) return 409;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof InvalidNameError || err instanceof SiloError) return 400;
  const code = (err as { statusCode?: number }).statusCode;
  return typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
}

const errorSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;
const jobAccepted = {
  type: 'object',
  properties: { job: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] } } } },
} as const;
const refusals = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const idempotencyHeader = { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } } as const;

export interface ControlApiOptions {
  jobs: JobStore;
  /** more routes on the same listener (the metrics endpoint, the console pages) */
  extend?: (app: FastifyInstance) => Promise<void> | void;
  logger?: boolean;
}

export async function buildControlApi(cfg: SiloConfig, opts: ControlApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 64 * 1024 });
  const { jobs } = opts;
  const routes: { method: string; url: string }[] = [];
  app.decorate('controlRoutes', routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'silo control API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler((err, req, reply) => {
    const status = statusOf(err);
    if (status >= 500) req.log.error(err);
    const message = status >= 500 ? 'internal error' : (err as Error).message.split('\n')[0]!;
    void reply.code(status).send({ statusCode: status, error: STATUS_CODES[status], message });
  });

  // The bearer token of every route that names a scope (all of /v1, /metrics).
  app.addHook('onRequest', async (req, reply) => {
    const need = needOf(req);
    if (!need.scope) return;
    const token = verifyToken(cfg.home, req.headers.authorization);
    if (!token) {
      void reply.header('www-authenticate', 'Bearer');
      throw new HttpError(401, req.headers.authorization ? 'the bearer token is not valid (unknown or revoked)' : 'a bearer token is required: Authorization: Bearer <token> (silo token create)');
    }
    req.token = token;
  });
  app.addHook('preHandler', async (req) => {
    const need = needOf(req);
    if (!need.scope || !req.token) return;
    if (need.filtered && req.token.tenant) return authorize(req, { scope: need.scope, tenant: req.token.tenant });
    authorize(req, { scope: need.scope, tenant: need.tenant?.(req) });
  });

  /** Queue `operation` as a job: 202 with it, or the job an earlier request with this Idempotency-Key made. */
  async function submit(req: FastifyRequest, reply: FastifyReply, operation: string, params: Record<string, unknown>) {
    const key = req.headers['idempotency-key'];
    const job = submitJob(cfg, jobs, operation, params, req.token!, typeof key === 'string' ? key : undefined);
    void reply.code(202).header('location', `/v1/jobs/${job.id}`);
    return { job: { id: job.id, state: job.state } };
  }

  const name = (req: FastifyRequest) => (req.params as { name: string }).name;
  const read = (tenant?: (req: FastifyRequest) => string | undefined, filtered = false): ControlRouteConfig => ({ scope: 'read', tenant, filtered });
  const write = (tenant?: (req: FastifyRequest) => string | undefined): ControlRouteConfig => ({ scope: 'write', tenant });
  const op = (summary: string, extra: Record<string, unknown> = {}) => ({ summary, tags: ['operations'], headers: idempotencyHeader, response: { 202: jobAccepted, ...refusals }, ...extra });
  // (OpenAPI 3.0 refuses an empty `required`)
  const body = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, ...(required.length ? { required } : {}), properties });
  /** A POST on one tenant: the operation with the tenant's name and the body's fields. */
  const onTenant = (path: string, operation: string, summary: string, props: Record<string, unknown> = {}, required: string[] = []) =>
    app.post(path, { config: write(name), schema: op(summary, { params: nameParam, ...(Object.keys(props).length || required.length ? { body: body(props, required) } : {}) }) }, (req, reply) =>
      submit(req, reply, operation, { ...((req.body as object) ?? {}), name: name(req) }),
    );

  // Tenants
  app.get('/v1/tenants', { config: read(undefined, true), schema: { summary: 'every tenant (a tenant token: its own)', tags: ['tenants'], response: { 401: errorSchema, 403: errorSchema } } }, (req) =>
    listTenants(cfg, req.token?.tenant),
  );
  app.get('/v1/tenants/:name', { config: read(name), schema: { summary: 'one tenant', tags: ['tenants'], params: nameParam, response: refusals } }, (req) => {
    knownTenant(cfg, validateTenantName(name(req)));
    return listTenants(cfg, name(req))[0];
  });
  const limit = { anyOf: [{ type: 'string', maxLength: 20 }, { type: 'integer' }] };
  app.post(
    '/v1/tenants',
    {
      config: write((req) => (req.body as { name?: string } | undefined)?.name),
      schema: op('create a tenant (a job; the tenant answers once it is done)', {
        body: body(
          {
            name: { type: 'string', maxLength: 64 },
            domains: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 253 } },
            server: { type: 'string', maxLength: 64 },
            maxMemory: { type: 'string', maxLength: 20 },
            rate: limit,
            cpu: limit,
            pids: limit,
            dbSize: { type: 'string', maxLength: 20 },
            hibernateAfter: { type: 'string', maxLength: 20 },
          },
          ['name'],
        ),
      }),
    },
    (req, reply) => submit(req, reply, 'tenant.create', req.body as Record<string, unknown>),
  );
  app.delete('/v1/tenants/:name', { config: write(name), schema: op('remove a tenant (its database is dumped first)', { params: nameParam }) }, (req, reply) =>
    submit(req, reply, 'tenant.remove', { name: name(req) }),
  );
  onTenant('/v1/tenants/:name/suspend', 'tenant.suspend', 'suspend: the proxy answers its hosts 503', { message: { type: 'string', maxLength: 300 } });
  onTenant('/v1/tenants/:name/resume', 'tenant.resume', 'serve a suspended tenant again');
  onTenant('/v1/tenants/:name/sleep', 'tenant.sleep', 'hibernate its worker now');
  onTenant('/v1/tenants/:name/wake', 'tenant.wake', 'start its worker now');
  onTenant('/v1/tenants/:name/deploy', 'tenant.deploy-release', 'move the tenant onto a release already in the store (silo deploy put it there)', { release: { type: 'string', minLength: 1, maxLength: 200 } }, ['release']);
  onTenant('/v1/tenants/:name/rollback', 'tenant.rollback', 'back to its previous release');
  onTenant('/v1/tenants/:name/move', 'tenant.move', 'move it to another database server', { to: { type: 'string', maxLength: 64 }, keepSource: { type: 'boolean' } }, ['to']);
  onTenant('/v1/tenants/:name/restore', 'tenant.restore', 'restore a backup (latest, or from a listed file), or discard what the last restore replaced', {
    latest: { type: 'boolean' },
    from: { type: 'string', maxLength: 4096 },
    discardPrevious: { type: 'boolean' },
  });

  // Domains
  app.get('/v1/tenants/:name/domains', { config: read(name), schema: { summary: "a tenant's hosts", tags: ['domains'], params: nameParam, response: refusals } }, (req) => {
    knownTenant(cfg, validateTenantName(name(req)));
    return listDomains(cfg, name(req));
  });
  onTenant('/v1/tenants/:name/domains', 'tenant.domain.add', 'serve the tenant on one more host', { host: { type: 'string', maxLength: 253 } }, ['host']);
  app.delete(
    '/v1/tenants/:name/domains/:host',
    { config: write(name), schema: op('stop serving the tenant on a host', { params: { type: 'object', required: ['name', 'host'], properties: { name: { type: 'string' }, host: { type: 'string' } } } }) },
    (req, reply) => submit(req, reply, 'tenant.domain.remove', { name: name(req), host: (req.params as { host: string }).host }),
  );

  // Backups
  const keep = { keep: { type: 'integer', minimum: 1, maximum: 100000 } };
  app.get('/v1/backups', { config: read(undefined, true), schema: { summary: 'recorded backups, newest first', tags: ['backups'], response: { 401: errorSchema, 403: errorSchema } } }, (req) =>
    listBackups(cfg.home, req.token?.tenant),
  );
  app.get('/v1/tenants/:name/backups', { config: read(name), schema: { summary: "a tenant's backups, newest first", tags: ['backups'], params: nameParam, response: refusals } }, (req) =>
    listBackups(cfg.home, validateTenantName(name(req))),
  );
  onTenant('/v1/tenants/:name/backups', 'tenant.backup', 'back up a tenant now', keep);
  app.post('/v1/backups', { config: write(), schema: op('back up every tenant', { body: body(keep) }) }, (req, reply) => submit(req, reply, 'backup.all', (req.body as Record<string, unknown>) ?? {}));

  // Releases and schema
  app.post(
    '/v1/deploy',
    {
      config: write(),
      schema: op('a release of the app (a folder or package on the host) to tenants, one by one', {
        body: body({ app: { type: 'string', minLength: 1, maxLength: 4096 }, tenants: { type: 'array', maxItems: 10000, items: { type: 'string' } }, all: { type: 'boolean' } }, ['app']),
      }),
    },
    (req, reply) => submit(req, reply, 'deploy', req.body as Record<string, unknown>),
  );
  app.post('/v1/migrate', { config: write((req) => (req.body as { tenant?: string } | undefined)?.tenant), schema: op('apply pending migrations (every tenant, or one)', { body: body({ tenant: { type: 'string', maxLength: 64 } }) }) }, (req, reply) =>
    submit(req, reply, 'migrate', (req.body as Record<string, unknown>) ?? {}),
  );

  // Jobs
  const jobSchema = {
    type: 'object',
    additionalProperties: true,
    properties: {
      id: { type: 'string' },
      operation: { type: 'string' },
      tenant: { type: 'string' },
      state: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
      steps: { type: 'array', items: { type: 'string' } },
      error: { type: 'string' },
      attempts: { type: 'integer' },
      createdAt: { type: 'string' },
      startedAt: { type: 'string' },
      finishedAt: { type: 'string' },
    },
  };
  app.get('/v1/jobs', { config: read(undefined, true), schema: { summary: 'jobs, newest first', tags: ['jobs'], response: { 200: { type: 'array', items: jobSchema }, 401: errorSchema, 403: errorSchema } } }, (req) =>
    jobs
      .list()
      .filter((j) => !req.token?.tenant || j.tenant === req.token.tenant)
      .slice(0, 200)
      .map(jobView),
  );
  app.get(
    '/v1/jobs/:id',
    { config: read(undefined, true), schema: { summary: "a job's state, steps done, error or result", tags: ['jobs'], params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 } } }, response: { 200: jobSchema, ...refusals } } },
    async (req) => {
      const job = jobs.get((req.params as { id: string }).id);
      // A tenant's token sees its tenant's jobs only; another's is "not found" to it.
      if (!job || (req.token?.tenant && job.tenant !== req.token.tenant)) throw new NotFoundError(`no job "${(req.params as { id: string }).id.slice(0, 40)}"`);
      return jobView(job);
    },
  );

  await opts.extend?.(app);

  app.get('/v1/openapi.json', { config: read(undefined, true), schema: { hide: true } as Record<string, unknown> }, () => app.swagger());
  return app;
}

/**
 * The one way a job starts (API and console): the operation's own checks (400, 404), the
 * token's scope and tenant against the tenant it acts on (403), then the job (409 for an
 * Idempotency-Key used with another request). Errors carry their HTTP status.
 */
export function submitJob(cfg: SiloConfig, jobs: JobStore, operation: string, params: Record<string, unknown>, token: TokenInfo, idempotencyKey?: string) {
  try {
    const tenant = OPERATIONS[operation]!.check(cfg, params);
    const why = refusal(token, { scope: 'write', tenant });
    if (why) throw new HttpError(403, why);
    return jobs.submit(operation, params, { tenant, token: token.id, idempotencyKey }).job;
  } catch (err) {
    throw Object.assign(err as Error, { statusCode: statusOf(err) });
  }
}

/**
 * What a route needs. Fail closed: a route under /v1/ or /metrics that names no scope (a
 * plugin mounted without one) needs a read token of the fleet.
 */
function needOf(req: FastifyRequest): Partial<ControlRouteConfig> {
  const need = (req.routeOptions.config ?? {}) as Partial<ControlRouteConfig>;
  const url = req.routeOptions.url ?? '';
  if (!need.scope && (url.startsWith('/v1/') || url === '/metrics')) return { scope: 'read' };
  return need;
}

function authorize(req: FastifyRequest, need: Need): void {
  const why = refusal(req.token!, need);
  if (why) throw new HttpError(403, why);
}
