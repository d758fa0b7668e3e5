// The last step of `npm run build`: dist/.build-stamp, a new file on every build (written
// aside, then renamed over the old one: a new inode even where file times are coarse). A
// long-running silo process keys what it derived from dist/ on this file
// (src/isolation/worker-code.ts), so nothing may write to dist/ after it.
import { renameSync, writeFileSync } from 'node:fs';

const stamp = new URL('../dist/.build-stamp', import.meta.url);
const aside = new URL(`../dist/.build-stamp.${process.pid}`, import.meta.url);
writeFileSync(aside, `${new Date().toISOString()} ${process.pid}\n`);
renameSync(aside, stamp);
