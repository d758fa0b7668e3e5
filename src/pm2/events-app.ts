/** The webhook deliverer's PM2 app (src/events/deliver-main.ts): runs whenever the stack runs. */
import type { SiloConfig } from '../common/config.js';
import { controlPlaneApp, type PM2App } from './ecosystem.js';

export const EVENTS_APP = 'events';

export function eventsApp(cfg: SiloConfig): PM2App {
  return controlPlaneApp(cfg, EVENTS_APP, 'events/deliver-main.js');
}
