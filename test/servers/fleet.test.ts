/**
 * The one loop over tenants (src/servers/fleet.ts) and its one summary printer
 * (src/cli/output.ts), in-process: every tenant gets a result in order, a failure stays
 * with its tenant, at most `concurrency` run at once, and the summary names each failure
 * and ends in one error naming them all.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import { overTenants, type TenantOutcome } from '../../src/servers/fleet.js';
import { printSummary } from '../../src/cli/output.js';

const home = mkdtempSync(join(tmpdir(), 'silo-fleet-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
const cfg = loadConfig({ PATH: process.env.PATH, SILO_HOME: home });

t.test('every tenant gets its result, in order; one that throws is reported and the others go on', async (t) => {
  let running = 0;
  let most = 0;
  const seen: string[] = [];
  const results = await overTenants<TenantOutcome & { n?: number }>(
    cfg,
    ['a', 'b', 'c', 'd', 'e'],
    { concurrency: 2, onResult: (r, done, total) => seen.push(`${done}/${total} ${r.tenant} ${r.ok}`) },
    async (tenant) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      if (tenant === 'c') throw new Error('c broke');
      return { tenant, ok: true, n: tenant.charCodeAt(0) };
    },
  );
  t.same(results.map((r) => r.tenant), ['a', 'b', 'c', 'd', 'e']);
  t.same(results[2], { tenant: 'c', ok: false, error: 'c broke' });
  t.equal(results.filter((r) => r.ok).length, 4);
  t.equal(most, 2, 'never more than two at once');
  t.equal(seen.length, 5);
  t.match(seen[4], /^5\/5 /, 'progress counts to the total');
});

t.test('the summary: a line per tenant, the totals, and one error naming the failures', async (t) => {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    out.push(Buffer.from(chunk).toString());
    return true;
  };
  let thrown: unknown;
  try {
    printSummary(
      [
        { tenant: 'a', ok: true },
        { tenant: 'b', ok: false, error: 'it broke' },
      ],
      { ok: (r) => `${r.tenant}: fine`, total: (ok, all, failed) => `${ok} of ${all} fine, ${failed} failed`, failure: (names) => `failed for ${names}` },
    );
  } catch (err) {
    thrown = err;
  } finally {
    process.stdout.write = write;
  }
  t.same(out.join(''), 'a: fine\nb: FAILED: it broke\n1 of 2 fine, 1 failed\n');
  t.match(thrown, { message: 'failed for b' }, 'a non-zero exit naming the tenant that failed');
});
