/**
 * src/common/stack-process.ts, in-process: the environment the stack's PM2 apps (waker,
 * control, events) keep once their settings are read, their JSON log line and their
 * one-line failure.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { jsonLog, PM2_ENVIRONMENT, trimEnvironment } from '../../src/common/stack-process.js';

t.test('trimEnvironment keeps what PM2 needs and what is asked for, nothing else', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => {
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  Object.assign(process.env, { PM2_HOME: '/x/pm2', pm_id: '3', SILO_DATABASE_URL: 'postgres://secret', SILO_TEST_HOLD_AT: 'create:schema' });
  trimEnvironment(['SILO_TEST_HOLD_AT']);
  t.equal(process.env.PM2_HOME, '/x/pm2');
  t.equal(process.env.SILO_TEST_HOLD_AT, 'create:schema');
  t.equal(process.env.pm_id, undefined);
  t.equal(process.env.SILO_DATABASE_URL, undefined);
  t.ok(Object.keys(process.env).every((k) => (PM2_ENVIRONMENT as readonly string[]).includes(k) || k === 'SILO_TEST_HOLD_AT'));
});

t.test('jsonLog writes one JSON line, time first', async (t) => {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (lines.push(chunk), true)) as typeof process.stdout.write;
  try {
    jsonLog({ msg: 'waker listening', n: 1 });
  } finally {
    process.stdout.write = write;
  }
  t.equal(lines.length, 1);
  t.ok(lines[0]!.endsWith('}\n'));
  const parsed = JSON.parse(lines[0]!);
  t.same(Object.keys(parsed), ['time', 'msg', 'n']);
  t.match(parsed, { msg: 'waker listening', n: 1 });
});

t.test('failAs prints "silo <name>: <message>" and exits 1', async (t) => {
  const code = `import('${new URL('../../src/common/stack-process.ts', import.meta.url).href}').then((m) => m.failAs('waker')('SILO_WAKER_SOCKET is not a path'))`;
  const r = spawnSync(process.execPath, ['--import=tsx', '-e', code], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.equal(r.stderr, 'silo waker: SILO_WAKER_SOCKET is not a path\n');
});
