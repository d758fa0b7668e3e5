/**
 * `silo tenant sleep | wake`: hibernate a tenant's worker, or start it, by hand (the waker
 * does it, asked while this command holds the tenant's lock like any operation on it).
 */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { sleepTenant, wakeTenant } from '../../tenant/hibernate.js';
import { printLine } from '../output.js';
import { group } from './group.js';


export function register(program: Command, config: () => SiloConfig): void {
  const tenant = group(program, 'tenant', 'create, list, remove and operate on tenants');

  tenant
    .command('sleep <name>')
    .description("hibernate a tenant now: stop its worker; its next request starts it again")
    .action(async (name: string) => {
      await sleepTenant(config(), name);
      printLine(`tenant ${name} is hibernated: its next request wakes it`);
    });

  tenant
    .command('wake <name>')
    .description("start a hibernated tenant's worker now")
    .action(async (name: string) => {
      const r = await wakeTenant(config(), name);
      printLine(r.started ? `tenant ${name} is awake (started in ${r.ms} ms)` : `tenant ${name} was already awake`);
    });
}
