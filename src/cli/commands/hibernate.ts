/** `silo tenant sleep | wake`: hibernate a tenant's worker, or start it, by hand. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { validateTenantName } from '../../common/names.js';
import { homePaths } from '../../common/paths.js';
import { SiloError } from '../../common/errors.js';
import { readRegistry } from '../../registry/registry.js';
import { askWaker } from '../../hibernate/client.js';
import { printLine } from '../output.js';
import { group } from './group.js';

function known(cfg: SiloConfig, name: string): void {
  validateTenantName(name);
  if (!readRegistry(homePaths(cfg.home).registry).tenants[name]) throw new SiloError(`no tenant named "${name.slice(0, 40)}"`);
}

export function register(program: Command, config: () => SiloConfig): void {
  const tenant = group(program, 'tenant', 'create, list, remove and operate on tenants');

  tenant
    .command('sleep <name>')
    .description("hibernate a tenant now: stop its worker; its next request starts it again")
    .action(async (name: string) => {
      const cfg = config();
      known(cfg, name);
      await askWaker(cfg, 'sleep', name);
      printLine(`tenant ${name} is hibernated: its next request wakes it`);
    });

  tenant
    .command('wake <name>')
    .description("start a hibernated tenant's worker now")
    .action(async (name: string) => {
      const cfg = config();
      known(cfg, name);
      const r = await askWaker(cfg, 'wake', name);
      printLine(r.started ? `tenant ${name} is awake (started in ${r.ms} ms)` : `tenant ${name} was already awake`);
    });
}
