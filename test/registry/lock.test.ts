/**
 * The registry lock against real processes: a SIGKILLed holder's lock is taken over at
 * once, a live holder is waited for and named, a recycled pid is not mistaken for the
 * owner, and many processes breaking one dead lock at the same moment still take it one
 * at a time.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readOwner, withLock, type LockOwner } from '../../src/registry/lock.js';
import { root } from '../helpers/silo-home.js';

const lockJs = join(root, 'dist', 'registry', 'lock.js');

function dir(t: { teardown(fn: () => void): void }) {
  const d = mkdtempSync(join(tmpdir(), 'silo-lock-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A child that takes the lock, says "held", and keeps it until killed or told to go. */
async function holder(t: { teardown(fn: () => void): void }, file: string): Promise<ChildProcess> {
  const script = `
    const { withLock } = await import(${JSON.stringify(lockJs)});
    await withLock(${JSON.stringify(file)}, async () => {
      process.stdout.write('held\\n');
      await new Promise((r) => process.stdin.once('data', r));
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await once(child.stdout!, 'data');
  return child;
}

t.test('the lock of a SIGKILLed holder is taken over without waiting for it', async (t) => {
  const file = join(dir(t), 'registry.lock');
  const child = await holder(t, file);
  t.equal(readOwner(file)?.pid, child.pid, 'the file names its holder');
  child.kill('SIGKILL');
  await once(child, 'exit');
  const waits: LockOwner[] = [];
  const got = await withLock(file, async () => readOwner(file)?.pid, { onWait: (o) => waits.push(o) });
  t.equal(got, process.pid, 'taken over');
  t.same(waits, [], 'a dead holder is not waited for');
  t.notOk(existsSync(file), 'released');
  t.same(readdirSync(join(file, '..')), [], 'no break or temp file left behind');
});

t.test('a live holder is waited for, and named, until it lets go', async (t) => {
  const file = join(dir(t), 'registry.lock');
  const child = await holder(t, file);
  const waits: LockOwner[] = [];
  const taking = withLock(file, async () => 'mine', { onWait: (o) => waits.push(o) });
  // The waiter has seen the holder once it reported it; only then let the holder go.
  while (waits.length === 0) await new Promise((r) => setTimeout(r, 20));
  t.equal(waits[0]!.pid, child.pid);
  t.match(waits[0]!.command, /^silo/);
  child.stdin!.write('go\n');
  t.equal(await taking, 'mine');
  t.equal(waits.length, 1, 'reported once');
});

t.test('an owner whose pid now belongs to another process is gone', async (t) => {
  const file = join(dir(t), 'registry.lock');
  // Our own pid with another start time: what a pid recycled after a crash looks like.
  const stale: LockOwner = { pid: process.pid, start: 1, host: hostname(), command: 'silo x', nonce: 'recycled', since: '' };
  writeFileSync(file, JSON.stringify(stale));
  const waits: LockOwner[] = [];
  t.equal(await withLock(file, async () => 'taken', { onWait: (o) => waits.push(o) }), 'taken');
  t.same(waits, []);
});

t.test('re-entrant along one call chain, exclusive between concurrent ones', async (t) => {
  const file = join(dir(t), 'registry.lock');
  const order: string[] = [];
  await Promise.all([
    withLock(file, async () => {
      order.push('a:in');
      await withLock(file, async () => order.push('a:nested'));
      await new Promise((r) => setTimeout(r, 30));
      order.push('a:out');
    }),
    withLock(file, async () => {
      order.push('b:in');
      order.push('b:out');
    }),
  ]);
  t.same(order, ['a:in', 'a:nested', 'a:out', 'b:in', 'b:out']);
});

t.test('processes racing to break one dead lock take it one at a time', async (t) => {
  const d = dir(t);
  const file = join(d, 'registry.lock');
  const counter = join(d, 'counter');
  writeFileSync(counter, '0');
  // A dead owner, and a dead breaker of it (killed in the middle of a takeover).
  const dead = (nonce: string): LockOwner => ({ pid: 2 ** 22 + 17, host: hostname(), command: 'silo dead', nonce, since: '' });
  writeFileSync(file, JSON.stringify(dead('owner')));
  writeFileSync(`${file}.break-owner`, JSON.stringify(dead('breaker')));
  const N = 8;
  const script = `
    const { withLock } = await import(${JSON.stringify(lockJs)});
    const { readFileSync, writeFileSync } = await import('node:fs');
    await withLock(${JSON.stringify(file)}, async () => {
      const n = Number(readFileSync(${JSON.stringify(counter)}, 'utf8'));
      await new Promise((r) => setTimeout(r, 5));
      writeFileSync(${JSON.stringify(counter)}, String(n + 1));
    });`;
  const codes = await Promise.all(
    Array.from({ length: N }, async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      const [code] = await once(child, 'exit');
      return code;
    }),
  );
  t.same(codes, Array(N).fill(0));
  t.equal(readFileSync(counter, 'utf8'), String(N), 'no two held it at once');
  t.same(readdirSync(d).sort(), ['counter'], 'the dead lock, its break file and every temp file are gone');
});

t.test('a tenant lock asked for while holding the registry lock refuses a busy tenant instead of waiting', async (t) => {
  const { withTenantLock } = await import('../../src/registry/tenant-lock.js');
  const { withRegistryLock } = await import('../../src/registry/registry.js');
  const home = dir(t);
  await withTenantLock(home, 'acme', async () => undefined); // makes the locks folder
  const child = await holder(t, join(home, 'locks', 'tenant-acme.lock'));
  const refused = await withRegistryLock(join(home, 'registry.json'), () => withTenantLock(home, 'acme', async () => 'ran')).catch((e: Error) => e.message);
  t.equal(refused, `tenant "acme" is busy: silo (pid ${child.pid}) is operating on it; try again when it is done`);
  t.equal(await withRegistryLock(join(home, 'registry.json'), () => withTenantLock(home, 'other', async () => 'ran')), 'ran', 'a free tenant is taken');
});
