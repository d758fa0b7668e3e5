/**
 * The loop that keeps the swarm's copy of the control state current (TenantRuntime's
 * `controlState`): once a second it copies the home's registry and secrets when they
 * changed, so the copy trails a command by about a second. Run by the waker, the control
 * host's one long-lived process. When another home has taken the control plane over, it
 * says so once, copies nothing more and tells its caller: this home is fenced.
 */
import type { SiloConfig } from '../common/config.js';
import { ControlTakenOver } from '../common/errors.js';
import { runtimeFor } from './select.js';

const EVERY_MS = 1000;

export function copyControlState(cfg: SiloConfig, log: (entry: Record<string, unknown>) => void, onTakenOver: () => void = () => {}): { stop(): void } {
  const control = runtimeFor(cfg).controlState;
  if (!control) return { stop() {} };
  let stamp: string | undefined;
  let lastError = '';
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      const now = await control.publish(cfg, stamp);
      if (now !== stamp && stamp !== undefined) log({ msg: 'control state copied to the swarm' });
      stamp = now;
      lastError = '';
    } catch (err) {
      if (err instanceof ControlTakenOver) {
        log({ msg: 'control state not copied: another home controls the stack now', err: err.message });
        stopped = true;
        onTakenOver();
        return;
      }
      // Once per new reason: a manager that does not answer would say it every second.
      const message = (err as Error).message.split('\n')[0]!;
      if (message !== lastError) log({ msg: 'control state not copied', err: message });
      lastError = message;
    }
  };
  const loop = () => {
    if (!stopped) timer = setTimeout(() => void tick().finally(loop), EVERY_MS);
  };
  loop();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
