/**
 * Scheduled backups: `silo up` with SILO_BACKUP_CRON starts the PM2 app `backups`, which
 * backs up every tenant on time (kind `scheduled`, --keep applied) and logs one summary
 * line per run; `status` shows it; `down` stops it. A bad expression is one line.
 */
import t from 'tap';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { siloStatus, waitUntil } from '../helpers/resilience.js';
import { loadConfig } from '../../src/common/config.js';

t.setTimeout(120_000);

t.test('a cron expression croner refuses is one line', async (t) => {
  t.throws(() => loadConfig({ SILO_HOME: '/tmp/x', SILO_BACKUP_CRON: '61 * * * * *' }), /^invalid configuration: SILO_BACKUP_CRON "61 \* \* \* \* \*": /);
  t.throws(() => loadConfig({ SILO_HOME: '/tmp/x', SILO_BACKUP_CRON: '* * * * *; rm -rf /' }), /invalid configuration/);
  t.equal(loadConfig({ SILO_HOME: '/tmp/x', SILO_BACKUP_CRON: '0 3 * * *' }).backupCron, '0 3 * * *');
});

t.test('the backups app backs up every tenant on schedule, keeps n, logs one line per run', async (t) => {
  // Every 2 seconds, so the test sees runs; keep 2 of each tenant.
  const stack = await startStack(t, { env: { SILO_BACKUP_CRON: '*/2 * * * * *', SILO_BACKUP_KEEP: '2' } });
  t.match(stack.up.stdout, /started backups \(\*\/2 \* \* \* \* \*\)/);
  const log = join(stack.home, 'logs', 'backups.out.log');
  const runs = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('scheduled backup:')) : []);
  await waitUntil('three scheduled runs', 60_000, () => runs().length >= 3);
  for (const l of runs()) t.match(l, /^\S+Z scheduled backup: 2 of 2 tenants, \d+ bytes, [\d.]+ s; 0 failed$/);

  const list = JSON.parse((await stack.cli(['backup', 'list', '--json'])).stdout) as { tenant: string; kind: string }[];
  for (const tenant of ['client1', 'client2']) {
    const mine = list.filter((e) => e.tenant === tenant);
    t.ok(mine.length >= 1 && mine.length <= 3, `${tenant}: ${mine.length} backups kept (2, plus one being made)`);
    t.ok(mine.every((e) => e.kind === 'scheduled'));
  }
  const s = await siloStatus(stack);
  t.match((s as unknown as { backups: unknown }).backups, { schedule: '*/2 * * * * *', keep: 2, status: 'online' });
  t.match((await stack.cli(['status'])).stdout, /^backups: online, "\*\/2 \* \* \* \* \*", keeping 2 per tenant$/m);
  const down = await stack.cli(['down']);
  t.match(down.stdout, /stopped backups/);
});
