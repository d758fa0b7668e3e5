/**
 * `silo`: parse the command line, call the control plane, print. Nothing else. Each
 * group of commands registers itself from its own file under commands/.
 */
import { Command, CommanderError } from 'commander';
import type { SiloConfig } from '../common/config.js';
import { loadStackConfig } from '../registry/settings.js';
import { disconnect } from '../pm2/pm2.js';
import { SiloError } from '../common/errors.js';
import { fail, notice } from './output.js';
import { onRegistryLockWait } from '../registry/registry.js';
import * as tenantCommands from './commands/tenant.js';
import * as migrateCommands from './commands/migrate.js';
import * as stackCommands from './commands/stack.js';
import * as serverCommands from './commands/server.js';
import * as backupCommands from './commands/backup.js';
import * as operationCommands from './commands/operations.js';
import * as deployCommands from './commands/deploy.js';
import * as hibernateCommands from './commands/hibernate.js';
import * as runCommands from './commands/run.js';
import * as serviceCommands from './commands/service.js';
import * as domainCommands from './commands/domain.js';
import * as tokenCommands from './commands/token.js';
import * as eventCommands from './commands/events.js';
import * as controlCommands from './commands/control.js';

/** The environment's configuration with the stack's recorded settings applied. */
function config(opts: { forUp?: boolean } = {}): SiloConfig {
  return loadStackConfig(process.env, opts);
}

onRegistryLockWait((owner) =>
  notice(`waiting for another silo command to finish (pid ${owner.pid}: ${owner.command}, since ${owner.since})`),
);

const program = new Command('silo')
  .description('Run a SaaS app with one database, one role and one worker process per tenant.')
  .showHelpAfterError(false)
  .exitOverride()
  // Options after a subcommand belong to it (`silo backup list --json` is list's --json).
  .enablePositionalOptions()
  .configureOutput({ outputError: (str, write) => write(`silo: ${str.replace(/^error: /, '').trim()}\n`) });

for (const group of [tenantCommands, hibernateCommands, migrateCommands, stackCommands, serverCommands, backupCommands, operationCommands, deployCommands, runCommands, serviceCommands, domainCommands, tokenCommands, eventCommands, controlCommands]) group.register(program, config);

try {
  await program.parseAsync(process.argv);
  await disconnect();
  // On a pipe stdout is written asynchronously: exiting at once cut `silo audit --json` of a
  // long log short (at 64 KiB, a pipe's buffer).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(0);
} catch (err) {
  await disconnect().catch(() => undefined);
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 1);
  }
  fail(err);
}
