#!/usr/bin/env node
// The `silo` command: runs the compiled CLI (npm install builds it; `npm run build` rebuilds).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('silo: not built yet: run `npm run build` in the project folder\n');
  process.exit(1);
}
await import(main.href);
