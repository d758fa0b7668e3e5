/**
 * The hosts harness itself (test/helpers/hosts.ts): three network namespaces with their
 * own dockerd form one swarm; the images scripts/offline-images makes on one host reach
 * the others by save/load;
 * a service with a task on each node answers from the hosts' network on each node's
 * address (host-mode port: this kernel has no IPVS for the routing mesh); a node that
 * dies has its task rescheduled elsewhere. Tear-down leaves no namespace and no process.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { offlineImages, startHosts, type Hosts } from '../helpers/hosts.js';

const SERVER = `require('http').createServer((q, s) => s.end(require('os').hostname())).listen(8000)`;

async function until(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const answer = (hosts: Hosts, addr: string) => hosts.exec(hosts.hub, process.execPath, ['-e', `fetch('http://${addr}:8000/').then(r=>r.text()).then(console.log,e=>{console.error(e.message);process.exit(1)})`], { timeoutMs: 10_000 });

// Three engines, and the images loaded onto each: more than the suite's 180 s on a busy machine.
t.setTimeout(600_000);

t.test('three hosts form a swarm; a task on each answers on its node; a dead node leaves no gap for long', async (t) => {
  const hosts = await startHosts(t);
  const [n1, n2, n3] = hosts.nodes;
  t.same((await hosts.docker(n1!, ['node', 'ls', '--format', '{{.Hostname}}'])).trim().split('\n').length, 3, 'three nodes');
  const { node: NODE_IMAGE } = await offlineImages(hosts);
  for (const h of hosts.nodes) t.ok((await hosts.docker(h, ['image', 'ls', '-q', NODE_IMAGE])).trim(), `${h.name} has the image`);
  await hosts.docker(n1!, ['node', 'update', '--label-add', 'silo.pin=b', n2!.name]);
  await hosts.docker(n1!, [
    'service', 'create', '--detach', '--name', 'hello', '--no-resolve-image', '--replicas', '2', '--replicas-max-per-node', '1',
    '--publish', 'mode=host,target=8000,published=8000', NODE_IMAGE, 'node', '-e', SERVER,
  ]);
  await hosts.docker(n1!, [
    'service', 'create', '--detach', '--name', 'pinned', '--no-resolve-image', '--constraint', 'node.labels.silo.pin==b', NODE_IMAGE, 'node', '-e', SERVER,
  ]);
  const where = async (svc: string) =>
    (await hosts.docker(n1!, ['service', 'ps', svc, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}'])).trim().split('\n').filter((l) => / Running /.test(l)).map((l) => l.split(' ')[0]!);
  await until('both tasks running', 120_000, async () => (await where('hello')).length === 2);
  await until('the pinned task running', 120_000, async () => (await where('pinned')).length === 1);
  t.same(await where('pinned'), [n2!.name], 'a label places a service on its node');
  const nodes = await where('hello');
  for (const name of nodes) {
    const h = hosts.nodes.find((x) => x.name === name)!;
    t.match((await answer(hosts, h.addr)).trim(), /^[0-9a-f]{12}$/, `${name} answers on ${h.addr}:8000`);
  }
  const victim = hosts.nodes.find((h) => h !== n1 && nodes.includes(h.name))!;
  await hosts.killNode(victim);
  await until('the task rescheduled off the dead node', 120_000, async () => {
    const now = await where('hello');
    return now.length === 2 && !now.includes(victim.name);
  });
  t.pass(`the task of ${victim.name} runs elsewhere`);
  await hosts.startNode(victim);
  await until(`${victim.name} back in the swarm`, 120_000, async () => / Ready /.test(await hosts.docker(n1!, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} x'])) && (await hosts.docker(n1!, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).includes(`${victim.name} Ready`));
  t.pass(`${victim.name} rejoined`);
  const ns = hosts.nodes.map((h) => h.ns);
  await hosts.stop();
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  t.same(ns.filter((n) => left.includes(n)), [], 'no namespace left');
});
