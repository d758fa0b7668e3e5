/** `silo run`: the stack in the foreground, for containers. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { run } from '../../stack/run.js';
import { createDemoTenants } from '../../tenant/demo.js';
import { stackRelease } from '../../apps/stack-app.js';
import { printLine } from '../output.js';
import { disconnect } from '../../pm2/pm2.js';

export function register(program: Command, config: (opts?: { forUp?: boolean }) => SiloConfig): void {
  program
    .command('run')
    .description('the stack in the foreground: silo up, stream the logs, silo down on SIGTERM/SIGINT (for containers)')
    .action(async () => {
      const cfg = config({ forUp: true });
      const release = await stackRelease(cfg);
      const r = await run(cfg, { log: (l) => printLine(`silo: ${l}`), release, demoTenants: createDemoTenants });
      printLine('silo is running (SIGTERM or Ctrl-C stops it):');
      for (const url of r.urls) printLine(`  ${url}`);
      const code = await r.done;
      await disconnect();
      process.exit(code);
    });
}
