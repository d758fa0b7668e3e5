/**
 * Control API tokens through the real CLI (no stack needed): created once and printed
 * alone on the last line, listed without their secret, stored hashed in a 0600 file,
 * checked by verifyToken with their scope and tenant, revoked at once.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/silo-home.js';
import { allows, verifyToken } from '../../src/control/tokens.js';
import { homePaths } from '../../src/common/paths.js';

const home = mkdtempSync(join(tmpdir(), 'silo-tokens-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
const env = { PATH: process.env.PATH, HOME: process.env.HOME, SILO_HOME: home };
const silo = (...args: string[]) => runCli(env, args);
const lastLine = (s: string) => s.trimEnd().split('\n').at(-1)!;

t.test('a token is printed once, alone on the last line, and kept only as a hash', async (t) => {
  const r = await silo('token', 'create', '--scope', 'write');
  t.equal(r.code, 0, r.stderr);
  const token = lastLine(r.stdout);
  t.match(token, /^silo_[A-Za-z0-9_-]{43}$/);
  const file = homePaths(home).controlTokens;
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.notOk(readFileSync(file, 'utf8').includes(token.slice(5)), 'the file does not hold the secret');
  const list = await silo('token', 'list', '--json');
  t.equal(list.code, 0);
  t.notOk(list.stdout.includes(token.slice(5)), 'list never shows the secret');
  const rows = JSON.parse(list.stdout) as { id: string; scope: string }[];
  t.equal(rows.length, 1);
  t.equal(verifyToken(home, `Bearer ${token}`)?.id, rows[0]!.id);
  t.equal(verifyToken(home, token)?.scope, 'write');
  t.equal(verifyToken(home, token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), undefined, 'one character off is no token');
  t.equal(verifyToken(home, undefined), undefined);
  t.equal(verifyToken(home, 'Bearer '), undefined);
});

t.test('scopes and tenants: read cannot write, a tenant token stays on its tenant', async (t) => {
  const read = lastLine((await silo('token', 'create', '--scope', 'read')).stdout);
  const acme = lastLine((await silo('token', 'create', '--scope', 'write', '--tenant', 'acme')).stdout);
  const r = verifyToken(home, read)!;
  const a = verifyToken(home, acme)!;
  t.ok(allows(r, { scope: 'read', tenant: 'acme' }));
  t.notOk(allows(r, { scope: 'write', tenant: 'acme' }));
  t.ok(allows(a, { scope: 'write', tenant: 'acme' }));
  t.notOk(allows(a, { scope: 'read', tenant: 'other' }));
  t.notOk(allows(a, { scope: 'read' }), 'a tenant token does not act on the fleet');
});

t.test('revoked: the next check refuses it', async (t) => {
  const c = await silo('token', 'create', '--scope', 'read', '--name', 'billing');
  const token = lastLine(c.stdout);
  const id = verifyToken(home, token)!.id;
  const r = await silo('token', 'revoke', id);
  t.equal(r.code, 0, r.stderr);
  t.equal(verifyToken(home, token), undefined);
  const again = await silo('token', 'revoke', id);
  t.equal(again.code, 1);
  t.match(again.stderr, /^silo: no token with id/);
});

t.test('bad input is one line and a non-zero exit', async (t) => {
  for (const args of [
    ['token', 'create', '--scope', 'admin'],
    ['token', 'create'],
    ['token', 'create', '--scope', 'read', '--tenant', 'Not_A_Name'],
  ]) {
    const r = await silo(...args);
    t.equal(r.code, 1, args.join(' '));
    t.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.equal(r.stdout, '');
  }
});

t.test('creating and revoking a token is audited, never with its secret', async (t) => {
  const token = lastLine((await silo('token', 'create', '--scope', 'write', '--tenant', 'acme')).stdout);
  const id = verifyToken(home, token)!.id;
  t.equal((await silo('token', 'revoke', id)).code, 0);
  const r = await silo('audit', '--json');
  t.equal(r.code, 0, r.stderr);
  const entries = JSON.parse(r.stdout) as { what: string; target?: string; result: string }[];
  t.ok(entries.some((e) => e.what === 'token.create' && e.target === 'acme' && e.result === 'ok'));
  t.ok(entries.some((e) => e.what === 'token.revoke' && e.target === id && e.result === 'ok'));
  t.ok(entries.some((e) => e.what === 'token.create' && e.result === 'error'), 'a refused create too');
  t.notOk(readFileSync(homePaths(home).audit, 'utf8').includes(token.slice(5)), 'the audit log never holds a secret');
});
