/**
 * A worker must not age: after many queries its database pool holds nothing that grows
 * with the number of queries. postgres.js 3.4.9 did (porsager/postgres#747): its pool
 * queues (src/queue.js) only reset when a shift() empties them, so under steady load the
 * `busy` queue's array grew by one slot per query, and every query's move() scanned the
 * whole array with indexOf: CPU per query rose from ~30 to over 100 us in a minute.
 * Timing is not asserted here (see `npm run bench:aging`); the mechanism is: the largest
 * JS array backing store in the worker process, from a heap snapshot, must not grow
 * while the worker runs tens of thousands of queries through its real pool.
 */
import t from 'tap';
import { getHeapSnapshot } from 'node:v8';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { provisionTenant } from './tenant-db.js';

const pg = await startTestPostgres(t);
const tenant = await provisionTenant(t, pg, 'acme');
const fastify = buildWorker(tenant.config(), { app });
t.teardown(() => fastify.close());
await fastify.ready();

/** `n` plain queries through the worker's pool, 32 at a time (more than the pool's 4). */
async function queries(n: number): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (left-- > 0) await fastify.sql`select 1 as x`;
    }),
  );
}

/** Bytes of the largest JS array backing store alive in this process (after a full GC). */
async function largestArrayBytes(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const arrayType = snap.snapshot.meta.node_types[0].indexOf('array');
  let largest = 0;
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    if (snap.nodes[i + type] === arrayType && snap.strings[snap.nodes[i + name]!] === '(object elements)') {
      largest = Math.max(largest, snap.nodes[i + size]!);
    }
  }
  return largest;
}

t.test('the database pool holds nothing that grows with the number of queries', async (t) => {
  await queries(5_000);
  const before = await largestArrayBytes();
  await queries(24_000);
  const after = await largestArrayBytes();
  t.comment(`figures: largest JS array ${before} bytes after 5,000 queries, ${after} bytes after 29,000`);
  // 24,000 queries leave at least 192 KB (3x the bound) in a structure that grows by one
  // slot each (fewer than the 60,000 this ran before: the suite's time, same verdict).
  t.ok(after - before < 64 * 1024, `largest array grew by ${after - before} bytes over 24,000 queries`);
});
