/** The ceilings watcher's PM2 app definition (src/isolation/ceilings-main.ts). */
import type { SiloConfig } from '../common/config.js';
import { controlPlaneApp, type PM2App } from './ecosystem.js';

export const CEILINGS_APP = 'ceilings';

export function ceilingsApp(cfg: SiloConfig): PM2App {
  return controlPlaneApp(cfg, CEILINGS_APP, 'isolation/ceilings-main.js');
}
