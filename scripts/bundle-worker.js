// The worker PM2 runs, as one file: dist/worker-bundle/worker/server.js, bundled by esbuild
// from tsc's dist/worker/server.js. Node then reads and compiles one module instead of
// ~250 (fastify, pino, their dependencies, the worker's own): a woken worker starts in
// about half the CPU (`npm run bench:wake` shows the phases). Left outside, loaded from
// node_modules as before: postgres.js (its stack frames name its own files, see
// src/worker/db.ts), Ajv's compiler (loaded on a route's first validation,
// src/worker/lazy-validation.ts), and the tenant app, bundled sample included (it finds its
// migrations beside its own file). The path keeps `worker/server.js` in it (what `ps`
// and the benches look for).
import { build } from 'esbuild';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'worker-bundle', 'worker', 'server.js');
const sampleApp = join(root, 'dist', 'app', 'index.js');

/** The sample app stays its own module, imported from where it is. */
const sampleAppOutside = {
  name: 'sample-app-outside',
  setup(b) {
    b.onResolve({ filter: /\/app\/index\.js$/ }, (args) => {
      if (join(args.resolveDir, args.path) !== sampleApp) return undefined;
      return { path: relative(dirname(outfile), sampleApp), external: true };
    });
  },
};

await build({
  entryPoints: [join(root, 'dist', 'worker', 'server.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['postgres', '@fastify/ajv-compiler'],
  plugins: [sampleAppOutside],
  // CommonJS packages inside an ES module call require() for Node's built-ins.
  banner: { js: "import { createRequire as __siloRequire } from 'node:module'; const require = __siloRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});
