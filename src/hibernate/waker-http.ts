/**
 * The waker's HTTP face, on a loopback port:
 *
 *  - From the proxy, when a tenant's worker refused the connection: the request comes
 *    with `X-Silo-Tenant` (set by the proxy, never by the client: the proxy overwrites
 *    it) and without its body. Awake (or woken): 204 with `X-Accel-Redirect:
 *    @silo_replay`, and nginx sends the original request, body included, to the tenant
 *    again. Failed: 503 with Retry-After. Caddy cannot re-send a body after a failed
 *    attempt, so a request with a body (`X-Silo-Body`, set only by the Caddy config) is
 *    answered 503 `Retry-After: 1` once the tenant is awake.
 *  - From the CLI: `POST /_silo/sleep/<tenant>`, `POST /_silo/wake/<tenant>`.
 *
 * It never proxies, and never sees a response of a tenant.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { validateTenantName } from '../common/names.js';
import type { Waker } from './waker.js';
import { bearerMatches, EDGE_FEED_PATH, edgeFeedTag } from '../proxy/edge.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(status: number, message: string) {
  const error = status === 404 ? 'Not Found' : status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : 'Bad Request';
  return { statusCode: status, error, message };
}

function tenantName(raw: string): string | undefined {
  try {
    return validateTenantName(raw);
  } catch {
    return undefined;
  }
}

async function fromProxy(waker: Waker, req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
  const name = tenantName(raw);
  if (!name) return json(res, 404, errorBody(404, 'no tenant serves this host'));
  const method = String(req.headers['x-silo-method'] ?? req.method ?? 'GET').toUpperCase();
  // nginx's $upstream_connect_time: "-" for every refused attempt. A number means a worker
  // took the connection and then failed (a crash): a request that may have been processed
  // is not sent again, unless silo itself was putting that worker to sleep.
  const connected = /\d/.test(String(req.headers['x-silo-connect'] ?? ''));
  if (connected && !SAFE.has(method) && !waker.recentlySlept(name) && !waker.isAsleep(name)) {
    return json(res, 502, errorBody(502, 'the tenant is not answering'));
  }
  const r = await waker.wake(name);
  if (!r.ok) {
    return json(res, r.status, errorBody(r.status, r.message), r.retryAfterS ? { 'retry-after': String(r.retryAfterS) } : {});
  }
  if (String(req.headers['x-silo-body'] ?? '').trim() !== '') {
    return json(res, 503, errorBody(503, 'the tenant was asleep and is awake now; send the request again'), { 'retry-after': '1' });
  }
  res.writeHead(204, { 'x-accel-redirect': '@silo_replay', 'x-silo-woke-ms': String(r.ms) });
  res.end();
}

async function fromCli(waker: Waker, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const m = /^\/_silo\/(sleep|wake)\/([^/?]+)$/.exec(req.url ?? '');
  if (req.method === 'GET' && req.url === '/_silo/healthz') return json(res, 200, { status: 'ok' });
  if (!m || req.method !== 'POST') return json(res, 404, errorBody(404, 'not found'));
  const name = tenantName(decodeURIComponent(m[2]!));
  if (!name) return json(res, 400, errorBody(400, 'invalid tenant name'));
  if (m[1] === 'sleep') {
    await waker.sleep(name);
    return json(res, 200, { tenant: name, state: 'hibernated' });
  }
  const r = await waker.wake(name);
  if (!r.ok) return json(res, r.status, errorBody(r.status, r.message), r.retryAfterS ? { 'retry-after': String(r.retryAfterS) } : {});
  return json(res, 200, { tenant: name, state: 'awake', started: r.started, ms: r.ms });
}

export function createWakerServer(waker: Waker, log: (f: Record<string, unknown>) => void): Server {
  return createServer((req, res) => {
    req.resume(); // nothing here reads a body
    const tenant = req.headers['x-silo-tenant'];
    const handle = typeof tenant === 'string' ? fromProxy(waker, req, res, tenant) : fromCli(waker, req, res);
    handle.catch((err: Error) => {
      log({ msg: 'request failed', err: err.message });
      if (!res.headersSent) json(res, 503, errorBody(503, 'the tenant could not be started; try again shortly'), { 'retry-after': '5' });
      else res.destroy();
    });
  });
}

/**
 * The waker's face to the edge nodes (SILO_RUNTIME=swarm with SILO_EDGE_PORT), on TCP:
 * every request must carry the edge's bearer token (401 otherwise, before anything is
 * read). `GET /_silo/edge/feed`: what the edge's nginx reads (src/proxy/edge.ts), or 304
 * when the agent's If-None-Match is the feed's ETag (it has it already); a
 * request with `X-Silo-Tenant` (set by the edge's nginx, forwarded by its agent): a wake,
 * exactly as from the proxy on the Unix socket. The CLI's sleep and wake are not here.
 */
export function createEdgeServer(waker: Waker, token: string, feed: () => string, log: (f: Record<string, unknown>) => void, controls: () => boolean = () => true): Server {
  return createServer((req, res) => {
    req.resume();
    if (!bearerMatches(req.headers.authorization, token)) return json(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'a valid edge token is required' });
    // A home another took over (runtime/control-copy.ts): the edge asks the next manager.
    if (!controls()) return json(res, 503, errorBody(503, 'this host no longer controls the stack'));
    const tenant = req.headers['x-silo-tenant'];
    if (typeof tenant !== 'string') {
      if (req.method !== 'GET' || req.url !== EDGE_FEED_PATH) return json(res, 404, errorBody(404, 'not found'));
      const text = feed();
      const etag = edgeFeedTag(text);
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': 'no-cache' });
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', etag, 'content-length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    fromProxy(waker, req, res, tenant).catch((err: Error) => {
      log({ msg: 'edge request failed', err: err.message });
      if (!res.headersSent) json(res, 503, errorBody(503, 'the tenant could not be started; try again shortly'), { 'retry-after': '5' });
      else res.destroy();
    });
  });
}
