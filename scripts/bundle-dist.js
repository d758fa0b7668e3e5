// One of tsc's entry points in dist/ bundled into one file by esbuild (the CLI:
// bundle-cli.js; the worker: bundle-worker.js), with the packages in `external` and the
// bundled sample app (dist/app/index.js) left outside: the app finds its migrations beside
// its own file, so it is imported from where it is.
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `entry` and `outfile` relative to the project; `external` package names. `format`
 * 'cjs' (the worker, compiled through node:vm with a code cache): `import.meta.url` is the
 * bundle's own URL and the tenant app's `import()` goes through `__siloImport` (the
 * loader's own import(), see scripts/worker-loader.js). An external that is an ES module
 * would get its namespace as default export: keep those inside.
 */
export async function bundleDist(entry, outfile, external, format = 'esm') {
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
  const cjs = format === 'cjs';
  await build({
    entryPoints: [join(root, entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format,
    target: 'node20',
    external,
    plugins: [sampleAppOutside],
    ...(cjs
      ? { define: { 'import.meta.url': '__siloImportMetaUrl' }, banner: { js: 'var __siloImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' } }
      : // CommonJS packages inside an ES module call require() for Node's built-ins.
        { banner: { js: "import { createRequire as __siloRequire } from 'node:module'; const require = __siloRequire(import.meta.url);" } }),
    logLevel: 'warning',
    legalComments: 'none',
  });
  if (cjs) {
    // The tenant app is an ES module: imported by the loader's import() (vm-compiled code
    // has none of its own without an experimental flag).
    // Every dynamic import() left in the bundle is an external's: the tenant app's (loadApp).
    const code = readFileSync(out, 'utf8').replace(/(?<![\w$.])import\((?=["'(\w])/g, '__siloImport(');
    writeFileSync(out, code);
  }
}
