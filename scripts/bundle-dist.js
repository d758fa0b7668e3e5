// One of tsc's entry points in dist/ bundled into one file by esbuild (the CLI:
// bundle-cli.js; the worker: bundle-worker.js), with the packages in `external` and the
// bundled sample app (dist/app/index.js) left outside: the app finds its migrations beside
// its own file, so it is imported from where it is.
import { build } from 'esbuild';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `entry` and `outfile` relative to the project; `external` package names. */
export async function bundleDist(entry, outfile, external) {
  const out = join(root, outfile);
  const sampleApp = join(root, 'dist', 'app', 'index.js');
  const toSample = relative(dirname(out), sampleApp);
  const sampleAppOutside = {
    name: 'sample-app-outside',
    setup(b) {
      b.onResolve({ filter: /\/app\/index\.js$/ }, (args) => {
        if (join(args.resolveDir, args.path) !== sampleApp) return undefined;
        return { path: toSample.startsWith('.') ? toSample : `./${toSample}`, external: true };
      });
    },
  };
  await build({
    entryPoints: [join(root, entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    plugins: [sampleAppOutside],
    // CommonJS packages inside an ES module call require() for Node's built-ins.
    banner: { js: "import { createRequire as __siloRequire } from 'node:module'; const require = __siloRequire(import.meta.url);" },
    logLevel: 'warning',
    legalComments: 'none',
  });
}
