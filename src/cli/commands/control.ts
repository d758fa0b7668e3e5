/**
 * `silo control adopt | status`: the control plane of a stack on a Swarm, taken over on
 * another manager when the control host is lost (src/runtime/swarm/control-state.ts).
 */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { SiloError } from '../../common/errors.js';
import { runtimeFor } from '../../runtime/select.js';
import { audited } from '../../events/audit.js';
import { printJson, printLine, printTable } from '../output.js';
import { group } from './group.js';

function controlOf(cfg: SiloConfig) {
  const control = runtimeFor(cfg).controlState;
  if (!control) throw new SiloError('the control state is kept in the swarm only: set SILO_RUNTIME=swarm and SILO_SWARM_ENGINES (this manager\'s engine first)');
  return control;
}

export function register(program: Command, config: () => SiloConfig): void {
  const control = group(program, 'control', "the control plane's state in the swarm, and taking it over on another manager");

  control
    .command('adopt')
    .description("take the control plane over on this manager, into an empty SILO_HOME, from the swarm's newest copy; then silo up")
    .requiredOption('--key-file <file>', "the control key of the home that wrote it (its secrets/control-key, copied here beforehand)")
    .action(async (opts: { keyFile: string }) => {
      const cfg = config();
      const r = await audited(cfg, 'control.adopt', undefined, () => controlOf(cfg).adopt(cfg, opts.keyFile));
      printLine(`took over version ${r.seq} of the control state (written from ${r.from} at ${r.at}): ${r.tenants} tenants, ${r.files} files; the home that wrote it is fenced`);
      printLine('now run silo up here: the proxy, the waker and the edge follow this host');
    });

  control
    .command('status')
    .description("the copies of the control state in the swarm, and whether this home controls the stack")
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const r = await controlOf(config()).describe(config());
      if (opts.json) return printJson(r);
      if (r.versions.length === 0) return printLine('no copy of the control state in the swarm yet (silo up writes one)');
      printLine(r.ours ? 'this home controls the stack' : 'another home controls the stack: this one is fenced');
      printTable(r.versions.map((v) => ({ version: v.seq, written: v.at, from: v.node })), ['version', 'written', 'from']);
    });
}
