/**
 * The control state's copy (src/runtime/swarm/control-state.ts), in-process: what goes in
 * it, sealed so that only the control key opens it. The copy in a real swarm, its
 * takeover and its fencing are test/hosts/swarm.test.ts's.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureControlKey, seal, snapshotHome, homeStamp, unseal } from '../../src/runtime/swarm/control-state.js';

function home(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'silo-control-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'secrets', 'tenants'), { recursive: true });
  mkdirSync(join(dir, 'events'), { recursive: true });
  writeFileSync(join(dir, 'registry.json'), '{"version":1,"servers":{},"tenants":{"a":{}}}\n');
  writeFileSync(join(dir, 'secrets', 'tenants', 'a.password'), 'pa55word-of-a\n');
  writeFileSync(join(dir, 'secrets', 'tenants', 'a.password.123.456.tmp'), 'half-written\n');
  writeFileSync(join(dir, 'events', 'webhooks.json'), '[]\n');
  writeFileSync(join(dir, 'events', 'audit.log'), 'not state\n');
  return dir;
}

t.test('the copy holds the registry, the secrets and the webhooks, never the key or a temporary file', async (t) => {
  const dir = home(t);
  const key = ensureControlKey(dir);
  t.equal(statSync(join(dir, 'secrets', 'control-key')).mode & 0o777, 0o600, 'the key is made 0600');
  t.same(ensureControlKey(dir), key, 'and kept');
  const snap = snapshotHome(dir);
  t.same(Object.keys(snap.files).sort(), ['events/webhooks.json', 'registry.json', 'secrets/tenants/a.password']);
  const stamp = homeStamp(dir);
  t.equal(homeStamp(dir), stamp, 'an unchanged home has the same stamp');
  writeFileSync(join(dir, 'secrets', 'tenants', 'a.password'), 'changed\n');
  t.not(homeStamp(dir), stamp, 'a changed secret changes it');
  const changed = homeStamp(dir);
  writeFileSync(join(dir, 'secrets', 'tenants', 'b.password'), 'new\n');
  t.not(homeStamp(dir), changed, 'a new secret changes it');
  rmSync(join(dir, 'secrets', 'tenants', 'b.password'));
  t.equal(homeStamp(dir), changed, 'and removing it again gives the stamp back');
});

t.test('sealed: only the key opens it, and a changed byte is refused', async (t) => {
  const dir = home(t);
  const key = ensureControlKey(dir);
  const sealed = seal(snapshotHome(dir), key);
  t.notOk(sealed.includes('pa55word-of-a') || sealed.includes(Buffer.from('pa55word-of-a').toString('base64')), 'no secret in the clear');
  t.same(unseal(sealed, key).files['secrets/tenants/a.password']?.toString(), 'pa55word-of-a\n', 'the key opens it');
  t.throws(() => unseal(sealed, randomBytes(32)), /the control key does not open/, 'another key does not');
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1]! ^= 1;
  t.throws(() => unseal(tampered, key), /does not open/, 'a changed byte is refused');
  t.throws(() => unseal(Buffer.from('something else'), key), /not in a format/, 'something else is refused');
});
