/** The certificate renewal job's PM2 app (src/proxy/tls/renew-main.ts): nginx with ACME only (Caddy renews its own). */
import type { SiloConfig } from '../common/config.js';
import { controlPlaneApp, type PM2App } from './ecosystem.js';

export const CERTIFICATES_APP = 'certificates';

export function certificateApps(cfg: SiloConfig): PM2App[] {
  if (!cfg.tls || !cfg.acmeDirectory || cfg.proxy !== 'nginx') return [];
  // Its settings come from the registry (recorded by silo up).
  return [controlPlaneApp(cfg, CERTIFICATES_APP, 'proxy/tls/renew-main.js')];
}
