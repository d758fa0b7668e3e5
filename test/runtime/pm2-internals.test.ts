/**
 * A wake starts its worker through PM2's own modules (src/pm2/pm2.ts startNew, the
 * storm's fast path). The PM2 that package-lock.json pins has them; a PM2 that moved or
 * reshaped them must cost only that speed (PM2's public start), never a wake.
 */
import t from 'tap';
import { pm2Internals } from '../../src/pm2/pm2.js';

t.test('the pinned PM2 has the modules a wake uses', async (t) => {
  const own = await pm2Internals();
  t.ok(own, 'found, with the functions startNew calls');
});

t.test('a PM2 without them, or with them reshaped, means the public start', async (t) => {
  t.equal(await pm2Internals(() => Promise.reject(new Error("Cannot find module 'pm2/lib/Common.js'"))), undefined, 'moved');
  t.equal(await pm2Internals(async () => ({ default: { verifyConfs() {} } })), undefined, 'reshaped');
});
