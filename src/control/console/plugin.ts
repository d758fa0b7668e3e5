/**
 * The operator console: server-rendered pages under a prefix of the control app (e.g.
 * /console), a Fastify plugin the control app registers with its token verification and
 * its jobs. Pages: the fleet, one tenant (with its actions), jobs. Forms work without
 * JavaScript; every action starts the same job the API starts, and the ones that can lose
 * data ask first. Auth: a token typed into the login form opens a session (session.ts);
 * read scope sees, write scope acts, a tenant-scoped token sees its tenant only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { SiloConfig } from '../../common/config.js';
import { homePaths } from '../../common/paths.js';
import { readRegistry } from '../../registry/registry.js';
import { listBackups } from '../../backup/manifest.js';
import { listReleases } from '../../apps/releases.js';
import { fleetRows, type FleetSources } from './fleet.js';
import { fleetPage as pageOfFleet, parseFleetQuery } from './fleet-query.js';
import { COOKIE, createSessions, csrfMatches, readCookie, sessionCookie, type Session } from './session.js';
import { html } from './html.js';
import { loginPage } from './pages/login.js';
import { fleetPage } from './pages/fleet-page.js';
import { confirmPage, tenantPage } from './pages/tenant-page.js';
import { jobPage, jobsPage } from './pages/jobs-page.js';
import { page, type Frame } from './pages/layout.js';
import { FINISHED, type Caller, type ConsoleAction, type ConsoleBackend, type ConsoleJob } from './types.js';

export interface ConsoleOptions {
  cfg: SiloConfig;
  backend: ConsoleBackend;
  sources: FleetSources;
  /** served over HTTPS: the session cookie is Secure */
  secure?: boolean;
}

const ACTIONS = ['suspend', 'resume', 'backup', 'restore', 'deploy', 'sleep', 'wake', 'remove'] as const;
type ActionName = (typeof ACTIONS)[number];
/** Actions that can lose data: a confirmation page comes first. */
const CONFIRM = new Set<ActionName>(['restore', 'deploy', 'remove']);

/** Choosing a state, server or page size in the fleet's filter applies it at once. */
const SCRIPT = `for (const s of document.querySelectorAll('form.filter select')) s.addEventListener('change', () => s.form.submit());\n`;

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: Session<Caller>;
  }
}

const field = (body: unknown, name: string): string | undefined => {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' ? v : undefined;
};

/** The Origin a browser sent names the host the form was posted to (default ports normalised). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const o = new URL(origin);
    return host !== undefined && o.host === new URL(`${o.protocol}//${host}`).host;
  } catch {
    return false; // "null" (a sandboxed or opaque origin) and anything unparsable
  }
}

export async function consolePlugin(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const { cfg, backend, sources } = opts;
  const base = app.prefix.replace(/\/$/, '');
  const sessions = createSessions<Caller>();
  const registry = () => readRegistry(homePaths(cfg.home).registry);
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) await app.register(formbody, { bodyLimit: 16_384 });

  const send = (reply: FastifyReply, status: number, body: string) => reply.code(status).headers(HEADERS).send(body);
  const frameOf = (req: FastifyRequest, title: string, extra: Partial<Frame> = {}): Frame & { caller: Caller; csrf: string } => ({
    base,
    title,
    caller: req.consoleSession!.caller,
    csrf: req.consoleSession!.csrf,
    ...extra,
  });
  const problem = (req: FastifyRequest, reply: FastifyReply, status: number, message: string) =>
    send(reply, status, page(frameOf(req, 'Error', { error: message }), html`<p><a href="${base}/">Back to the fleet</a></p>`));
  /** A tenant the caller may see (its scope), and that the registry holds. */
  const visible = (caller: Caller, name: string) => (!caller.tenant || caller.tenant === name) && Object.hasOwn(registry().tenants, name);
  const jobsOf = async (caller: Caller, tenant?: string): Promise<ConsoleJob[]> =>
    (await backend.jobs()).filter((j) => (!caller.tenant || j.tenant === caller.tenant) && (!tenant || j.tenant === tenant));

  // Who is asking: the session of the cookie, its token verified again now.
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.slice(base.length).split('?')[0];
    if (path === '/login' || path === '/console.js') return;
    const s = sessions.get(readCookie(req.headers.cookie, COOKIE));
    const caller = s ? await backend.verifyToken(s.token) : undefined;
    if (!s || !caller) {
      if (s) sessions.close(s.id);
      return reply.code(303).header('location', `${base}/login`).header('cache-control', 'no-store').send();
    }
    s.caller = caller;
    req.consoleSession = s;
  });

  // A form posted from another origin, or without this session's CSRF token, is refused.
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST') return;
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host)) return reply.code(403).headers(HEADERS).send('cross-origin form refused');
    if (req.consoleSession && !csrfMatches(req.consoleSession.csrf, field(req.body, 'csrf'))) {
      return reply.code(403).headers(HEADERS).send('this form has expired: reload the page and try again');
    }
  });

  app.get('/login', async (req, reply) => send(reply, 200, loginPage(base)));

  // The one script: an enhancement only (every page works without it).
  app.get('/console.js', async (req, reply) => reply.headers({ ...HEADERS, 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=300' }).send(SCRIPT));

  app.post('/login', async (req, reply) => {
    const token = field(req.body, 'token')?.trim() ?? '';
    const caller = token && token.length <= 512 ? await backend.verifyToken(token) : undefined;
    if (!caller) return send(reply, 401, loginPage(base, 'That token is not valid (unknown, revoked or mistyped).'));
    const s = sessions.open(token, caller);
    return reply
      .code(303)
      .header('set-cookie', sessionCookie(s.id, { path: base || '/', secure: opts.secure === true }))
      .header('location', `${base}/`)
      .header('cache-control', 'no-store')
      .send();
  });

  app.post('/logout', async (req, reply) => {
    sessions.close(req.consoleSession!.id);
    return reply
      .code(303)
      .header('set-cookie', sessionCookie('', { path: base || '/', secure: opts.secure === true, clear: true }))
      .header('location', `${base}/login`)
      .send();
  });

  app.get('/', async (req, reply) => {
    const caller = req.consoleSession!.caller;
    const reg = registry();
    const q = parseFleetQuery(req.query as Record<string, unknown>);
    const rows = (await fleetRows(cfg, sources, reg)).filter((r) => !caller.tenant || r.name === caller.tenant);
    const inProgress = (await jobsOf(caller)).filter((j) => !FINISHED.has(j.state)).length;
    return send(reply, 200, fleetPage(frameOf(req, 'Fleet'), q, pageOfFleet(rows, q), Object.keys(reg.servers).sort(), inProgress));
  });

  const tenantView = async (req: FastifyRequest, name: string) => {
    const reg = registry();
    const entry = reg.tenants[name]!;
    const [row] = (await fleetRows(cfg, sources, { ...reg, tenants: { [name]: entry } })) as [Awaited<ReturnType<typeof fleetRows>>[number]];
    return {
      row,
      createdAt: entry.createdAt,
      schemaVersion: entry.schemaVersion,
      backups: listBackups(cfg.home, name),
      releases: listReleases(cfg),
      jobs: (await jobsOf(req.consoleSession!.caller, name)).slice(0, 20),
      audit: backend.audit ? await backend.audit(name, 20) : undefined,
    };
  };

  app.get<{ Params: { name: string } }>('/tenants/:name', async (req, reply) => {
    const { name } = req.params;
    if (!visible(req.consoleSession!.caller, name)) return problem(req, reply, 404, `no tenant named "${name.slice(0, 40)}"`);
    return send(reply, 200, tenantPage(frameOf(req, name), await tenantView(req, name)));
  });

  app.post<{ Params: { name: string; action: string } }>('/tenants/:name/:action', async (req, reply) => {
    const { name } = req.params;
    const act = req.params.action as ActionName;
    const caller = req.consoleSession!.caller;
    if (!visible(caller, name)) return problem(req, reply, 404, `no tenant named "${name.slice(0, 40)}"`);
    if (!ACTIONS.includes(act)) return problem(req, reply, 404, 'no such action');
    if (caller.scope !== 'write') return problem(req, reply, 403, 'your token has read scope: actions need a write token');

    let action: ConsoleAction;
    let fields: Record<string, string> = {};
    let what = html``;
    if (act === 'restore') {
      const file = field(req.body, 'backup') ?? '';
      const backup = listBackups(cfg.home, name).find((b) => b.file.endsWith(`/${file}`));
      if (!backup) return problem(req, reply, 400, 'choose one of the listed backups');
      action = { action: 'restore', tenant: name, backup: backup.file };
      fields = { backup: file };
      what = html`Its data is replaced by the backup taken ${backup.startedAt} (${backup.kind}, schema ${backup.schemaVersion ?? '?'}). Its current data is kept as <code>${name}_previous</code> until the next restore; it is unavailable during the swap.`;
    } else if (act === 'deploy') {
      const id = field(req.body, 'release') ?? '';
      const release = listReleases(cfg).find((r) => r.id === id);
      if (!release) return problem(req, reply, 400, 'choose one of the listed releases');
      action = { action: 'deploy', tenant: name, release: release.id };
      fields = { release: release.id };
      what = html`It moves to release ${release.name}${release.version ? `@${release.version}` : ''} (${release.id}); its database is migrated to that release's schema, which a rollback may not undo.`;
    } else if (act === 'remove') {
      action = { action: 'remove', tenant: name };
      what = html`Its worker and route go, its database is dumped to a final backup, then dropped with its role. Visitors get 404.`;
    } else if (act === 'suspend') {
      const message = field(req.body, 'message')?.trim();
      action = { action: 'suspend', tenant: name, ...(message ? { message } : {}) };
    } else action = { action: act, tenant: name };

    if (CONFIRM.has(act)) {
      const confirmed = field(req.body, 'confirm') === 'yes' && (act !== 'remove' || field(req.body, 'typed') === name);
      if (!confirmed) return send(reply, 200, confirmPage(frameOf(req, `Confirm ${act}`), name, act, fields, what));
    }
    let job: ConsoleJob;
    try {
      job = await backend.startJob(action, caller);
    } catch (err) {
      const e = err as Error & { statusCode?: number };
      return problem(req, reply, e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500, e.message);
    }
    return reply.code(303).header('location', `${base}/jobs/${encodeURIComponent(job.id)}`).send();
  });

  app.get('/jobs', async (req, reply) => send(reply, 200, jobsPage(frameOf(req, 'Jobs'), await jobsOf(req.consoleSession!.caller))));

  app.get<{ Params: { id: string } }>('/jobs/:id', async (req, reply) => {
    const caller = req.consoleSession!.caller;
    const job = await backend.job(req.params.id);
    if (!job || (caller.tenant && job.tenant !== caller.tenant)) return problem(req, reply, 404, 'no such job');
    return send(reply, 200, jobPage(frameOf(req, `Job ${job.id}`), job));
  });
}
