/**
 * Logs that cannot fill the disk: every log the stack keeps rotates by size
 * (SILO_LOG_MAX per file, SILO_LOG_FILES files kept, the live one included), and a
 * tenant's logs stay within its ceiling (SILO_TENANT_LOG_SIZE) whatever it writes. Made to
 * log for real: PostgreSQL (warnings raised by an admin session), nginx (requests it
 * refuses, each an error line) and a tenant's worker (rejected requests, a line each).
 * Small sizes, so a few seconds of logging rotate several times. The checks wait for the
 * ceilings watcher (every 250 ms) to settle; nothing is timed.
 */
import t, { type Test } from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { startStack } from '../helpers/stack.js';
import { loops, pm2Cli, raw, send, serverUrl, waitUntil } from '../helpers/resilience.js';
import { urlOptions } from '../helpers/postgres.js';
import { logBytes, rotatedFile } from '../../src/common/log-rotation.js';
import { tenantLogBytes } from '../../src/isolation/ceilings.js';

t.setTimeout(240_000);

const MAX = 16 * 1024;
const FILES = 3;
const TENANT_CAP = 192 * 1024;
const stack = await startStack(t, { env: { SILO_LOG_MAX: '16K', SILO_LOG_FILES: String(FILES), SILO_TENANT_LOG_SIZE: '192K' } });
const logs = join(stack.home, 'logs');
const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);

/** After the watcher's next pass: the live file within MAX, rotated files .1 to .FILES-1, none beyond. */
async function rotated(t: Test, file: string, max = MAX) {
  await waitUntil(`${file} to be rotated`, 30_000, () => existsSync(rotatedFile(file, 1)) && size(file) <= max, 100);
  await waitUntil(`${file} to settle`, 30_000, () => size(file) <= max, 100);
  t.ok(existsSync(rotatedFile(file, 1)), `${file.split('/').pop()}: rotated into .1`);
  t.notOk(existsSync(rotatedFile(file, FILES)), `no .${FILES}: ${FILES} files kept, the live one included`);
  for (let k = 1; k < FILES; k++) {
    const f = rotatedFile(file, k);
    if (existsSync(f)) t.ok(size(f) <= max, `.${k} holds at most ${max} bytes (${size(f)})`);
  }
  return logBytes(file);
}

t.test("PostgreSQL's log rotates", async (t) => {
  const sql = postgres({ ...urlOptions(serverUrl(stack)), max: 1, onnotice: () => undefined });
  t.teardown(() => sql.end({ timeout: 5 }));
  // A WARNING reaches the server log (log_min_messages): 48 of 4 KB, several rotations.
  for (let i = 0; i < 48; i++) await sql.unsafe(`do $$ begin raise warning '%', repeat('w', 4000); end $$`);
  const file = join(logs, 'postgres-local.out.log');
  const bytes = await rotated(t, file);
  t.ok(bytes <= FILES * MAX, `on disk ${bytes} of at most ${FILES * MAX}`);
  const all = [file, rotatedFile(file, 1), rotatedFile(file, 2)].filter(existsSync).map((f) => readFileSync(f, 'utf8')).join('');
  t.match(all, /WARNING: +w{100}/, 'the newest warnings are kept');
  t.equal((await sql`select 1 as one`)[0]!.one, 1, 'the server goes on');
});

t.test("the proxy's log rotates", async (t) => {
  // nginx logs each body it refuses as too large at level error: one line each.
  const refuse = loops(4, async () => {
    await raw(stack.httpPort, `POST /api/polls HTTP/1.1\r\nHost: client1.localhost\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n`, { timeoutMs: 5000 });
  });
  await waitUntil('the proxy log to rotate', 60_000, () => existsSync(rotatedFile(join(logs, 'proxy.err.log'), 2)), 100);
  await refuse.stop();
  const file = join(logs, 'proxy.err.log');
  const bytes = await rotated(t, file);
  t.ok(bytes <= FILES * MAX, `on disk ${bytes} of at most ${FILES * MAX}`);
  t.match(readFileSync(rotatedFile(file, 1), 'utf8'), /client intended to send too large body/);
  t.equal((await send(stack.httpPort, 'client1.localhost', '/api/tenant')).status, 200, 'the proxy goes on');
});

t.test("a tenant that logs a lot stays within its ceiling, and pm2 logs still shows it", async (t) => {
  // Each rejected request is a line in the worker's log (info level).
  let peak = 0;
  let sent = 0;
  const flood = loops(4, async () => {
    await send(stack.httpPort, 'client1.localhost', '/api/polls', { method: 'POST', body: '{"question": ', timeoutMs: 10_000 });
    sent++;
    peak = Math.max(peak, tenantLogBytes(stack.home, 'client1'));
  });
  const out = join(logs, 'tenant-client1.out.log');
  await waitUntil("the tenant's log to rotate past its files", 120_000, () => existsSync(rotatedFile(out, 2)) && sent > 2000, 100);
  await flood.stop();
  // Both its logs, every file kept, within the ceiling; and no file above SILO_LOG_MAX.
  const perFile = Math.min(MAX, Math.floor(TENANT_CAP / (2 * FILES)));
  await rotated(t, out, perFile);
  const settled = tenantLogBytes(stack.home, 'client1');
  t.ok(settled <= TENANT_CAP, `client1's logs on disk: ${settled} of ${TENANT_CAP} (peak ${peak} while ${sent} requests were rejected)`);
  t.comment(`figures: tenant log ceiling ${TENANT_CAP}, per file ${perFile}, settled ${settled}, peak seen ${peak}, requests ${sent}`);

  // The worker's log reaches the file a moment after the answer (pino writes
  // asynchronously, then PM2), and a rotation may take it to .1: one more rejected request
  // until the live file has one (a clean-clone run read the file empty, just rotated).
  await waitUntil('a rejected request in the live log', 30_000, async () => {
    await send(stack.httpPort, 'client1.localhost', '/api/polls', { method: 'POST', body: '{"last": ', timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    return readFileSync(out, 'utf8').includes('request rejected');
  }, 300);
  const shown = await pm2Cli(stack, ['logs', 'tenant-client1', '--nostream', '--lines', '5']);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /request rejected/, 'pm2 logs tenant-client1 reads the live file');
});
