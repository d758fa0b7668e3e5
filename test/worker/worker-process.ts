/**
 * Test helper (no tests here): runs the COMPILED worker (`dist/worker/server.js`, what
 * PM2 runs) as a child process with a clean environment, and talks HTTP to it.
 * `npm test` builds first; a build older than the worker's sources is refused rather
 * than silently tested.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpClient } from '../app/http-suite.js';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const compiledWorker = join(projectRoot, 'dist', 'worker', 'server.js');

function newestMtime(dir: string, names = /\.(ts|sql)$/): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, names));
    else if (names.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Why the compiled worker cannot be trusted, or undefined when it is fresh. */
export function staleBuild(): string | undefined {
  let built: number;
  try {
    statSync(compiledWorker);
    statSync(join(projectRoot, 'dist', 'app', 'migrations'));
    // tsc leaves a file whose output did not change as it was: the newest output counts.
    built = Math.max(...['worker', 'app', 'migrate'].map((d) => newestMtime(join(projectRoot, 'dist', d), /\.js$/)));
  } catch {
    return `${compiledWorker} or dist/app/migrations is missing: run \`npm run build\` (npm test does)`;
  }
  const sources = Math.max(...['worker', 'app', 'migrate'].map((d) => newestMtime(join(projectRoot, 'src', d))));
  if (sources > built) return 'dist/ is older than src/: run `npm run build` (npm test does)';
  return undefined;
}

export interface WorkerProcess {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  /**
   * The first stdout line that contains `text`, once it has come (10 s at most). The
   * worker's log is pino's default destination, which writes asynchronously: a line logged
   * before `ready` can reach the pipe after it, and after a first answer too.
   */
  logLine: (text: string) => Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Starts the worker (`entry`: another build of it, e.g. the bundle); resolves once it has sent PM2's `ready`, rejects if it exits first. */
export function startWorker(t: Teardown, env: Record<string, string>, opts: { waitReady?: boolean; entry?: string } = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [opts.entry ?? compiledWorker], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Safety net if the test process dies before its teardown (e.g. a tap timeout).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const logLine = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const look = (): boolean => {
        const line = out.split('\n').slice(0, -1).find((l) => l.includes(text)); // whole lines only
        if (line === undefined) return false;
        clearTimeout(timer);
        child.stdout!.off('data', look);
        resolve(line);
        return true;
      };
      const timer = setTimeout(() => {
        child.stdout!.off('data', look);
        reject(new Error(`no line with ${text} on the worker's stdout after 10 s`));
      }, 10_000);
      if (!look()) child.stdout!.on('data', look);
    });
  const proc: WorkerProcess = { child, port: Number(env.PORT), stdout: () => out, stderr: () => err, logLine, exited };
  if (opts.waitReady === false) return Promise.resolve(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready after 10 s; stderr: ${err}`)), 10_000);
    child.on('message', (m) => {
      if (m === 'ready') {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code ?? signal}) before ready; stderr: ${err}`));
    });
  });
}

/** An HttpClient over a real socket (node:http lets us set Host, unlike fetch). */
export function httpClient(port: number, host: string): HttpClient {
  return (req) =>
    new Promise((resolve, reject) => {
      let payload: Buffer | undefined;
      const headers: Record<string, string> = { host, connection: 'close', ...req.headers };
      if (req.payload !== undefined) {
        if (Buffer.isBuffer(req.payload)) payload = req.payload;
        else if (typeof req.payload === 'string') payload = Buffer.from(req.payload);
        else {
          payload = Buffer.from(JSON.stringify(req.payload));
          headers['content-type'] ??= 'application/json';
        }
        headers['content-length'] = String(payload.length);
      }
      const r = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(payload);
    });
}
