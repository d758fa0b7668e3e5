/**
 * Scheduled backups, as the PM2 app `backups` that `silo up` starts when
 * SILO_BACKUP_CRON is set: at each time the expression names, back up every tenant
 * (as `silo backup --all --keep $SILO_BACKUP_KEEP` would) and log one summary line.
 * A run still going when the next one is due makes that one skip (croner's `protect`).
 */
import { Cron } from 'croner';
import { loadStackConfig } from '../registry/settings.js';
import { backupAll } from './backup.js';

// Audited as the scheduler, not as the Unix user PM2 runs it as.
const cfg = { ...loadStackConfig(), actor: 'silo:backups' };
if (!cfg.backupCron) {
  process.stderr.write('silo backups: SILO_BACKUP_CRON is not set\n');
  process.exit(1);
}

const line = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);

async function run(): Promise<void> {
  const started = performance.now();
  try {
    const results = await backupAll(cfg, { kind: 'scheduled', keep: cfg.backupKeep });
    const failed = results.filter((r) => !r.ok);
    const bytes = results.reduce((n, r) => n + (r.entry?.bytes ?? 0), 0);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    line(
      `scheduled backup: ${results.length - failed.length} of ${results.length} tenants, ${bytes} bytes, ${secs} s` +
        (failed.length ? `; FAILED: ${failed.map((f) => `${f.tenant} (${f.error})`).join(', ')}` : '; 0 failed'),
    );
  } catch (err) {
    line(`scheduled backup: FAILED: ${(err as Error).message}`);
  }
}

const job = new Cron(cfg.backupCron, { protect: true }, run);
line(`scheduled backups: "${cfg.backupCron}"${cfg.backupKeep ? `, keeping ${cfg.backupKeep} per tenant` : ''}; next at ${job.nextRun()?.toISOString()}`);

const stop = () => {
  job.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
