/**
 * A program driving silo's control API over its Unix socket, as a team's sign-up page
 * would: requests with a bearer token, and a job followed until it is done or failed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest, type HttpResult, type Stack } from './stack.js';

export interface ControlClient {
  socket: string;
  call(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<HttpResult>;
  /** GET /v1/jobs/<id> until its state is done or failed (or `limitMs` passes: then it throws) */
  waitJob(id: string, token: string, limitMs?: number): Promise<{ state: string; steps: string[]; error?: string; attempts: number; result?: unknown }>;
}

/** The last line of `silo token create`'s stdout: the token itself. */
export async function makeToken(stack: Stack, ...args: string[]): Promise<string> {
  const r = await stack.cli(['token', 'create', ...args]);
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n').at(-1)!;
}

export async function controlClient(stack: Stack): Promise<ControlClient> {
  const st = await stack.cli(['status', '--json']);
  const socket = (JSON.parse(st.stdout) as { control?: { socket: string } }).control?.socket;
  if (!socket) throw new Error(`silo status --json has no control socket: ${st.stdout.slice(0, 200)}`);
  if (!existsSync(socket)) {
    const log = join(stack.home, 'logs', 'control.err.log');
    throw new Error(`no control socket at ${socket}; control.err.log: ${existsSync(log) ? readFileSync(log, 'utf8').slice(-1500) : '(none)'}`);
  }
  const call: ControlClient['call'] = (method, path, opts = {}) =>
    httpRequest(socket, 'localhost', path, { method, body: opts.body, headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.headers ?? {}) } });
  return {
    socket,
    call,
    async waitJob(id, token, limitMs = 150_000) {
      const until = Date.now() + limitMs;
      for (;;) {
        const r = await call('GET', `/v1/jobs/${id}`, { token }).catch(() => undefined); // control restarting: try again
        const job = r?.status === 200 ? r.json() : undefined;
        if (job && (job.state === 'done' || job.state === 'failed')) return job;
        if (Date.now() > until) throw new Error(`job ${id} still ${job?.state ?? 'unreachable'} after ${limitMs} ms: ${r?.text.slice(0, 300)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
  };
}
