/**
 * Recorded stack settings, as pure functions: the first command records what its
 * environment says; later ones get the recorded values whatever their shell says, and a
 * conflicting value is refused in one line unless `silo up` may change it.
 */
import t from 'tap';
import { loadConfig } from '../../src/common/config.js';
import { emptyRegistry } from '../../src/registry/registry.js';
import { applySettings, recordSettings, unrecorded } from '../../src/registry/settings.js';

const env = (extra: NodeJS.ProcessEnv) => ({ SILO_HOME: '/tmp/x', ...extra });

t.test('the first environment is recorded; a shell without the variables gets it back', async (t) => {
  const reg = emptyRegistry();
  const first = env({ SILO_PROXY: 'caddy', SILO_DOMAIN: 'example.test', SILO_HTTP_PORT: '9090' });
  t.ok(unrecorded(reg, loadConfig(first)));
  t.same(recordSettings(reg, loadConfig(first)), [], 'nothing changed: first record');
  t.notOk(unrecorded(reg, loadConfig(first)));
  const later = applySettings(loadConfig(env({})), env({}), reg.settings);
  t.equal(later.proxy, 'caddy');
  t.equal(later.domain, 'example.test');
  t.equal(later.httpPort, 9090);
  const same = applySettings(loadConfig(first), first, reg.settings);
  t.equal(same.proxy, 'caddy', 'the same value set again is fine');
});

t.test('a conflicting value is one line naming the variable and both values', async (t) => {
  const reg = emptyRegistry();
  recordSettings(reg, loadConfig(env({ SILO_PROXY: 'caddy' })));
  const other = env({ SILO_PROXY: 'nginx' });
  t.throws(() => applySettings(loadConfig(other), other, reg.settings), {
    message: /^SILO_PROXY=nginx differs from this stack's recorded caddy: unset it to use the recorded value, or change it with silo down, then SILO_PROXY=\.\.\. silo up$/,
  });
  // `silo up` on a stopped stack keeps the new value and records it.
  const cfg = applySettings(loadConfig(other), other, reg.settings, true);
  t.equal(cfg.proxy, 'nginx');
  t.same(recordSettings(reg, cfg, true), [{ variable: 'SILO_PROXY', from: 'caddy', to: 'nginx' }]);
  t.equal(reg.settings?.proxy, 'nginx');
});

t.test('a setting set for the first time later is recorded without touching the others', async (t) => {
  const reg = emptyRegistry();
  recordSettings(reg, loadConfig(env({ SILO_PROXY: 'caddy' })));
  t.notOk('app' in reg.settings!);
  const withApp = loadConfig(env({ SILO_APP: '/srv/app' }));
  t.ok(unrecorded(reg, withApp));
  recordSettings(reg, applySettings(withApp, env({ SILO_APP: '/srv/app' }), reg.settings));
  t.equal(reg.settings?.app, '/srv/app');
  t.equal(reg.settings?.proxy, 'caddy');
});

t.test('node args are compared as a list, and `running` survives a record', async (t) => {
  const reg = emptyRegistry();
  const e = env({ SILO_WORKER_NODE_ARGS: '--max-semi-space-size=1' });
  recordSettings(reg, loadConfig(e));
  reg.settings!.running = true;
  recordSettings(reg, loadConfig(env({ SILO_DOMAIN: 'other.test' })));
  t.equal(reg.settings?.running, true);
  t.same(applySettings(loadConfig(e), e, reg.settings).workerNodeArgs, ['--max-semi-space-size=1']);
});

t.test('SILO_RUNTIME is recorded: pm2 unless the first environment said swarm', async (t) => {
  const reg = emptyRegistry();
  recordSettings(reg, loadConfig(env({})));
  t.equal(reg.settings?.runtime, 'pm2', 'the default is recorded');
  const swarm = env({ SILO_RUNTIME: 'swarm' });
  t.throws(() => applySettings(loadConfig(swarm), swarm, reg.settings), { message: /^SILO_RUNTIME=swarm differs from this stack's recorded pm2/ });
  t.throws(() => loadConfig(env({ SILO_RUNTIME: 'kubernetes' })), /SILO_RUNTIME/);
});
