// PM2 ecosystem for silo, derived from the registry in $SILO_HOME (never edit by hand:
// create and remove tenants with `silo`). `pm2 start ecosystem.config.js` starts the
// same stack as `silo up`: embedded PostgreSQL, one worker per tenant, the proxy.
// Needs a build (`npm run build`) and a registry (`npx silo up` once, or
// `npx silo tenant create <name>`).
import { ecosystemApps } from './dist/stack/ecosystem-file.js';

export const apps = ecosystemApps();
