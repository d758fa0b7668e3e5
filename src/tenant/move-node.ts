/**
 * `silo tenant move <name> --node <n>` (SILO_RUNTIME=swarm): pin a tenant's worker to one
 * node of the swarm. The registry records the node; its service is updated with that
 * placement (start-first: the task on the new node is healthy before the old one stops);
 * the proxy is rendered with the new node first. `--node any` lifts the pin.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { SiloError } from '../common/errors.js';
import { readRegistry, tenantEntry, updateRegistry } from '../registry/registry.js';
import { runtimeFor } from '../runtime/select.js';
import { stackIsUp, syncProxy, waitThroughProxy, primaryHost } from '../stack/live.js';
import { runSteps, type Step } from '../common/steps.js';
import { onTenant } from './operation.js';

interface Ctx {
  cfg: SiloConfig;
  name: string;
  node?: string;
  from?: string;
  live: boolean;
}

const steps: Step<Ctx>[] = [
  {
    name: 'check-node',
    async run(c) {
      if (!c.node) return;
      const nodes = (await runtimeFor(c.cfg).nodes?.()) ?? [];
      const node = nodes.find((n) => n.name === c.node);
      if (!node) throw new SiloError(`no node "${c.node}" in the swarm (its nodes: ${nodes.map((n) => n.name).join(', ') || 'none'})`);
      if (!node.ready) throw new SiloError(`node "${c.node}" is not ready: its worker cannot go there now`);
    },
  },
  {
    name: 'record',
    async run(c) {
      await updateRegistry(homePaths(c.cfg.home).registry, (reg) => {
        const t = tenantEntry(reg, c.name);
        if (c.node) t.node = c.node;
        else delete t.node;
      });
    },
  },
  {
    name: 'worker',
    async run(c) {
      c.live = await stackIsUp();
      if (!c.live) return;
      const runtime = runtimeFor(c.cfg);
      const reg = readRegistry(homePaths(c.cfg.home).registry);
      c.from = (await runtime.workers()).get(c.name)?.node;
      await runtime.reload(c.cfg, reg, c.name);
      // Ready on the new node: its running task is the one placed there.
      const deadline = Date.now() + 120_000;
      while (c.node && (await runtime.workers()).get(c.name)?.node !== c.node) {
        if (Date.now() > deadline) throw new SiloError(`the worker of ${c.name} did not reach node ${c.node} within 120 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await runtime.waitReady(c.cfg, c.name);
    },
  },
  {
    name: 'route',
    async run(c) {
      if (!c.live) return;
      const reg = readRegistry(homePaths(c.cfg.home).registry);
      await syncProxy(c.cfg, reg, true);
      await waitThroughProxy(c.cfg, c.name, primaryHost(c.cfg, reg, c.name), 60_000);
    },
  },
];

export async function moveTenantToNode(cfg: SiloConfig, name: string, node: string): Promise<{ name: string; node?: string; from?: string }> {
  if (cfg.runtime !== 'swarm') throw new SiloError(`--node needs SILO_RUNTIME=swarm (this stack runs its workers on ${cfg.runtime}, on this host)`);
  const ctx: Ctx = { cfg, name, node: node === 'any' ? undefined : node, live: false };
  await onTenant(cfg, name, { what: 'tenant.move-node', registryLock: true }, () => runSteps('move-node', steps, ctx));
  return { name, node: ctx.node, from: ctx.from };
}
