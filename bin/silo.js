#!/usr/bin/env node
// The `silo` command: runs the compiled CLI (npm install builds it; `npm run build` rebuilds),
// as one bundled file when the build made one that is not older than tsc's output
// (scripts/bundle-cli.js: a quicker start), else tsc's modules.
import { existsSync, statSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
const bundle = new URL('../dist/cli/main.bundle.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('silo: not built yet: run `npm run build` in the project folder\n');
  process.exit(1);
}
const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(main).mtimeMs;
await import((fresh ? bundle : main).href);
