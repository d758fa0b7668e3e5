// The worker PM2 runs: dist/worker-bundle/worker/server.js (scripts/worker-loader.js), which
// compiles one CommonJS file, server-code.cjs, bundled by esbuild from tsc's
// dist/worker/start.js, with the V8 code cache written here. Node then reads one module
// instead of ~250 (fastify, pino, their dependencies, the worker's own), and V8 takes the
// bytecode of what a start runs from the cache instead of compiling it (`npm run bench:wake`
// shows the phases). postgres.js is inside too (loaded from node_modules it cost a start
// about as much as the rest of the bundle; the 3.4.9 defect that src/worker/db.ts knows by
// its stack frame is gone from 4.x, and the tsc-compiled worker still names the driver's
// files). Left outside, loaded from node_modules: Ajv's compiler (loaded on a route's first
// validation, src/worker/lazy-validation.ts), and the tenant app, bundled sample included
// (it finds its migrations beside its own file). The path keeps `worker/server.js` in it
// (what `ps` and the benches look for).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleDist, root } from './bundle-dist.js';

const dir = join(root, 'dist', 'worker-bundle', 'worker');
for (const f of (() => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
})())
  if (f.endsWith('.cache')) rmSync(join(dir, f));

await bundleDist('dist/worker/start.js', 'dist/worker-bundle/worker/server-code.cjs', ['@fastify/ajv-compiler'], 'cjs');
// The CommonJS module as one function expression, which the loader compiles as it is; its
// last line names its content (the cache's file name carries it).
const code = join(dir, 'server-code.cjs');
const wrapped = `(function (exports, require, module, __filename, __dirname, __siloImport) {${readFileSync(code, 'utf8')}\n})\n`;
writeFileSync(code, `${wrapped}//# silo-code ${createHash('sha256').update(wrapped).digest('hex').slice(0, 16)}\n`);
copyFileSync(join(root, 'scripts', 'worker-loader.js'), join(dir, 'server.js'));
// The cache for the Node that builds (the one silo runs workers on): a warm-up start in
// this very bundle, then V8's code of everything it ran.
execFileSync(process.execPath, [join(dir, 'server.js'), '--write-code-cache'], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
