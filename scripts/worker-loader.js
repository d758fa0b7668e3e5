// The worker PM2 runs: dist/worker-bundle/worker/server.js, this file as the build copies it
// (scripts/bundle-worker.js). It compiles the one-file bundle beside it (server-code.cjs)
// through node:vm with the V8 code cache the build wrote for this Node: the bytecode of
// every function a start and a first request run, so a woken worker neither parses nor
// compiles them again. Without a cache (another Node, other V8 flags, a bundle the cache
// was not made from) V8 compiles as usual: slower, same behaviour.
//
// The cache is only ever written by the build (as whoever built, root under a root
// install), never by a worker: a tenant's user can read it, not change it. V8 checks its
// own version, flags and the source's length; the file's name carries a hash of the
// bundle's content (its last line), so a cache never meets other code of the same length.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, 'server-code.cjs');
const writing = process.argv[2] === '--write-code-cache';

/** Compile and run the bundle; its exports, the script (for its cache) and what V8 did with the cache. */
function compile() {
  // One function expression (the build wraps the CommonJS bundle in it): V8 keeps this
  // string as the script's source, the only copy.
  const source = readFileSync(file, 'utf8');
  const id = /\/\/# silo-code ([0-9a-f]+)\s*$/.exec(source.slice(-100))?.[1];
  const cacheFile = id ? join(dir, `server-code.${id}.${process.version}-${process.arch}.cache`) : undefined;
  let cachedData;
  if (cacheFile && !writing) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // none for this Node: compile as usual
    }
  }
  const script = new Script(source, { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, dir, (specifier) => import(specifier));
  return { exports: mod.exports, script, cacheFile, codeCache: cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'none' };
}

// The cache's buffer is not kept past compile(): an idle worker's memory is counted.
const { exports, script, cacheFile, codeCache } = compile();
if (writing) {
  if (!cacheFile) throw new Error(`${file} has no silo-code line`);
  await exports.warmUp();
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
  renameSync(tmp, cacheFile);
} else {
  await exports.startWorker(codeCache);
}
