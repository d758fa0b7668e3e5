/**
 * The `events` app of the stack (src/pm2/events-app.ts): delivers the webhook outbox
 * (deliver.ts). It looks at the outbox when a file lands there and every half second,
 * and starts every due delivery at once (at most 8 in flight), so a slow receiver holds
 * up only its own deliveries. One JSON line per attempt on stdout, as the delivery log
 * has it. Settings from the registry, secrets from $SILO_HOME/secrets, like any silo command.
 */
import { watch, type FSWatcher } from 'node:fs';
import { loadStackConfig } from '../registry/settings.js';
import { homePaths } from '../common/paths.js';
import { jsonLog as line } from '../common/stack-process.js';
import { createDeliverer } from './deliver.js';
import { privateFolder } from './append-log.js';

const cfg = loadStackConfig();
const outbox = homePaths(cfg.home).outbox;
privateFolder(homePaths(cfg.home).events);
privateFolder(outbox);

const deliverer = createDeliverer(cfg, { onRecord: (r) => line({ msg: `webhook ${r.result}`, ...r }) });
const tick = () => void deliverer.run().catch((err: Error) => line({ msg: 'delivery round failed', err: err.message }));

let watcher: FSWatcher | undefined;
let soon: NodeJS.Timeout | undefined;
try {
  watcher = watch(outbox, () => {
    soon ??= setTimeout(() => {
      soon = undefined;
      tick();
    }, 20);
  });
} catch (err) {
  line({ msg: 'cannot watch the outbox, polling only', err: (err as Error).message });
}
const timer = setInterval(tick, 500);
tick();
line({ msg: 'delivering webhooks', retry: cfg.webhookRetry, attempts: cfg.webhookAttempts, timeout: cfg.webhookTimeout });

// An attempt cut short here is made again later (its outbox file stays): at least once.
const stop = () => {
  clearInterval(timer);
  watcher?.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
