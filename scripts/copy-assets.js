// tsc compiles .ts only; the tenant app's SQL migrations must travel to dist/ too.
import { cpSync, existsSync } from 'node:fs';

const from = new URL('../src/app/migrations/', import.meta.url);
const to = new URL('../dist/app/migrations/', import.meta.url);
if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith('.ts') });
