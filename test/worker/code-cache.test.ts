/**
 * The bundled worker (what PM2 runs: dist/worker-bundle/worker/server.js) compiles its code
 * from the V8 code cache the build wrote for this Node, and starts all the same without
 * it: no cache for this Node, or a file V8 does not take. The database is unreachable
 * here: GET /api/tenant runs no query.
 */
import t, { type Test } from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/ports.js';
import { passwordFile as makePasswordFile } from './password-file.js';
import { httpClient, projectRoot, staleBuild, startWorker } from './worker-process.js';

t.setTimeout(60_000);

const stale = staleBuild();
if (stale) {
  t.fail(stale);
  process.exit(1);
}

const bundleDir = join(projectRoot, 'dist', 'worker-bundle', 'worker');
const caches = readdirSync(bundleDir).filter((f) => f.endsWith('.cache'));
const dir = mkdtempSync(join(tmpdir(), 'silo-code-cache-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const passwordFile = makePasswordFile(t, 'unused');

async function start(t: Test, entry: string): Promise<string | undefined> {
  const env = { TENANT: 'acme', PORT: String(await freePort()), HOST: '127.0.0.1', DB_PORT: '1', DB_PASSWORD_FILE: passwordFile, APP_MODULE: join(projectRoot, 'dist', 'app', 'index.js'), LOG_LEVEL: 'info' };
  const w = await startWorker(t, env, { entry });
  const res = await httpClient(w.port, 'acme.localhost')({ method: 'GET', url: '/api/tenant' });
  t.equal(res.statusCode, 200, 'serves');
  t.same(JSON.parse(res.body), { tenant: 'acme' });
  const line = await w.logLine('"started"');
  return (JSON.parse(line) as { boot?: { codeCache?: string } }).boot?.codeCache;
}

t.test('the build wrote one cache, for the Node that built; a worker on that Node uses it', async (t) => {
  t.equal(caches.length, 1, caches.join(', '));
  // The suite may run on another Node than the build's (npm run test:node): none for it.
  const ours = caches[0]?.endsWith(`.${process.version}-${process.arch}.cache`);
  t.equal(await start(t, join(bundleDir, 'server.js')), ours ? 'used' : 'none');
});

t.test('without a cache, or with one V8 refuses, the worker starts and serves the same', async (t) => {
  const copy = join(dir, 'worker');
  mkdirSync(copy);
  for (const f of ['server.js', 'server-code.cjs']) copyFileSync(join(bundleDir, f), join(copy, f));
  t.equal(await start(t, join(copy, 'server.js')), 'none');
  const id = caches[0]!.split('.')[1];
  writeFileSync(join(copy, `server-code.${id}.${process.version}-${process.arch}.cache`), 'not a V8 code cache');
  t.equal(await start(t, join(copy, 'server.js')), 'rejected');
});
