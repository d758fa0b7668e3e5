/** `silo service install | uninstall`: a systemd unit that runs the stack (src/stack/service.ts). */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { installService, SYSTEM_UNIT_DIR, uninstallService } from '../../stack/service.js';
import { printLine } from '../output.js';
import { group } from './group.js';

interface Opts {
  user?: string;
  name?: string;
  unitDir?: string;
}

export function register(program: Command, config: () => SiloConfig): void {
  const service = group(program, 'service', 'a systemd unit that runs the stack and brings it back (after a reboot, a crash)');

  service
    .command('install')
    .description(`write a systemd unit running \`silo run\` (restarted on failure) into ${SYSTEM_UNIT_DIR}; enable and start it where systemd runs`)
    .option('--user <user>', 'the Unix user the stack runs as (default: you)')
    .option('--name <name>', 'the unit name, without .service', 'silo')
    .option('--unit-dir <dir>', 'write the unit here instead (nothing is enabled)')
    .action((opts: Opts) => {
      const cfg = config();
      const r = installService(cfg, { user: opts.user, name: opts.name, unitDir: opts.unitDir });
      printLine(`wrote ${r.file}`);
      if (r.started) printLine(`enabled and started ${r.name}.service: it starts at boot and restarts on failure (journalctl -u ${r.name})`);
      else if (!opts.unitDir) printLine(`systemd does not run here (it is not PID 1): on a systemd host, systemctl daemon-reload && systemctl enable --now ${r.name}`);
    });

  service
    .command('uninstall')
    .description('stop and disable the unit (this stops the stack), and remove it')
    .option('--name <name>', 'the unit name, without .service', 'silo')
    .option('--unit-dir <dir>', 'the folder the unit was written to')
    .action((opts: Opts) => {
      const cfg = config();
      const r = uninstallService(cfg, { name: opts.name, unitDir: opts.unitDir });
      printLine(r.removed ? `removed ${r.file}${r.stopped ? ' (stopped and disabled)' : ''}` : `no unit at ${r.file}: nothing to do`);
    });
}
