import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { readRegistry, updateRegistry, writeRegistry, emptyRegistry } from '../../src/registry/registry.js';
import { root } from '../helpers/silo-home.js';

function dir(t: { teardown(fn: () => void): void }) {
  const d = mkdtempSync(join(tmpdir(), 'silo-reg-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('a missing registry reads as empty, a written one reads back', async (t) => {
  const file = join(dir(t), 'registry.json');
  t.same(readRegistry(file), emptyRegistry());
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  writeRegistry(file, reg);
  t.same(readRegistry(file), reg);
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by silo only (tenant workers run as other users under root)');
});

t.test('a corrupt registry is a clear error, not a silent reset', async (t) => {
  const file = join(dir(t), 'registry.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, '{"version": 1, "tenants": {');
  t.throws(() => readRegistry(file), /not valid JSON/);
});

t.test('concurrent writers in one process lose nothing', async (t) => {
  const file = join(dir(t), 'registry.json');
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      updateRegistry(file, async (r) => {
        await new Promise((res) => setTimeout(res, Math.random() * 5));
        r.tenants[`t${i}`] = { server: 'local', port: 4100 + i, domains: [], state: 'ready', schemaVersion: 1, createdAt: '' };
      }),
    ),
  );
  t.equal(Object.keys(readRegistry(file).tenants).length, 20);
});

t.test('concurrent writers in separate processes lose nothing', async (t) => {
  const file = join(dir(t), 'registry.json');
  const registryJs = join(root, 'dist', 'registry', 'registry.js');
  const script = (p: number) => `
    const { updateRegistry } = await import(${JSON.stringify(registryJs)});
    for (let i = 0; i < 10; i++) {
      await updateRegistry(${JSON.stringify(file)}, (r) => {
        r.tenants['p${p}-' + i] = { server: 'local', port: ${p} * 100 + i, domains: [], state: 'ready', schemaVersion: 1, createdAt: '' };
      });
    }`;
  const codes = await Promise.all(
    Array.from({ length: 6 }, (_, p) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script(p)], { stdio: 'inherit' });
        child.on('close', resolve);
      }),
    ),
  );
  t.same(codes, [0, 0, 0, 0, 0, 0]);
  t.equal(Object.keys(readRegistry(file).tenants).length, 60);
});
