/**
 * The runtime a stack's workers run on, picked from its recorded setting (in-process:
 * nothing starts). The PM2 runtime's behaviour is what the tenant, stack and hibernation
 * tests exercise through it.
 */
import t from 'tap';
import { loadConfig } from '../../src/common/config.js';
import { runtimeFor } from '../../src/runtime/select.js';

t.test('PM2 runs the workers unless SILO_RUNTIME says otherwise', async (t) => {
  t.equal(runtimeFor(loadConfig({ SILO_HOME: '/tmp/x' })).kind, 'pm2');
  t.equal(runtimeFor(loadConfig({ SILO_HOME: '/tmp/x', SILO_RUNTIME: 'pm2' })).kind, 'pm2');
});
