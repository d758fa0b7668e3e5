/**
 * The rotation rule every log follows (src/common/log-rotation.ts), on files in a temporary
 * folder: copy and truncate, the newest bytes kept, files shifted, no more files than kept,
 * and a writer that appends (as PM2 does) writing on at the new end. In-process, no stack.
 */
import t from 'tap';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logBytes, rotateIfOver, rotateLogsIn, rotatedFile } from '../../src/common/log-rotation.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-logrot-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a file past its size: newest bytes to .1, older ones shifted, at most `files` files', async (t) => {
  const file = join(dir, 'app.out.log');
  // PM2 opens its logs for appending and keeps them open.
  const fd = openSync(file, 'a', 0o600);
  t.teardown(() => closeSync(fd));
  const r = { maxBytes: 100, files: 3 };
  t.notOk(rotateIfOver(file, r), 'under its size: left alone');
  for (let round = 0; round < 5; round++) {
    writeSync(fd, `${String(round).repeat(150)}\n`);
    t.ok(rotateIfOver(file, r), `round ${round}: rotated`);
    t.equal(statSync(file).size, 0, 'the live file is emptied in place');
    t.equal(readFileSync(rotatedFile(file, 1), 'utf8'), `${String(round).repeat(99)}\n`, '.1 holds its newest bytes');
  }
  t.equal(readFileSync(rotatedFile(file, 2), 'utf8'), `${'3'.repeat(99)}\n`, '.2 the round before');
  t.notOk(existsSync(rotatedFile(file, 3)), 'three files kept, the live one included');
  writeSync(fd, 'after\n');
  t.equal(readFileSync(file, 'utf8'), 'after\n', 'the appending writer goes on at the start of the emptied file');
  t.equal(logBytes(file), 6 + 100 + 100);

  // The setting lowered: the rotated files beyond it go at the next rotation.
  writeSync(fd, 'x'.repeat(200));
  t.ok(rotateIfOver(file, { maxBytes: 100, files: 2 }));
  t.ok(existsSync(rotatedFile(file, 1)));
  t.notOk(existsSync(rotatedFile(file, 2)), 'two files kept now');
  writeSync(fd, 'y'.repeat(200));
  t.ok(rotateIfOver(file, { maxBytes: 100, files: 1 }));
  t.notOk(existsSync(rotatedFile(file, 1)), 'one file: it is only emptied');
  t.equal(statSync(file).size, 0);
});

t.test('a folder: every *.log the filter accepts', async (t) => {
  const sub = mkdtempSync(join(dir, 'logs-'));
  for (const n of ['proxy.err.log', 'tenant-a.out.log', 'notes.txt']) writeFileSync(join(sub, n), 'z'.repeat(500));
  const rotated = rotateLogsIn(sub, { maxBytes: 100, files: 5 }, (n) => !n.startsWith('tenant-'));
  t.same(rotated, [join(sub, 'proxy.err.log')]);
  t.equal(statSync(join(sub, 'tenant-a.out.log')).size, 500, 'left to its own rule');
  t.equal(statSync(join(sub, 'notes.txt')).size, 500, 'not a log');
  t.same(rotateLogsIn(join(dir, 'missing'), { maxBytes: 1, files: 2 }), [], 'no folder: nothing');
});
