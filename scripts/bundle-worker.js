// The worker PM2 runs, as one file: dist/worker-bundle/worker/server.js, bundled by esbuild
// from tsc's dist/worker/server.js. Node then reads and compiles one module instead of
// ~250 (fastify, pino, their dependencies, the worker's own): a woken worker starts in
// about half the CPU (`npm run bench:wake` shows the phases). Left outside, loaded from
// node_modules as before: postgres.js (its stack frames name its own files, see
// src/worker/db.ts), Ajv's compiler (loaded on a route's first validation,
// src/worker/lazy-validation.ts), and the tenant app, bundled sample included (it finds its
// migrations beside its own file). The path keeps `worker/server.js` in it (what `ps`
// and the benches look for).
import { bundleDist } from './bundle-dist.js';

await bundleDist('dist/worker/server.js', 'dist/worker-bundle/worker/server.js', ['postgres', '@fastify/ajv-compiler']);
