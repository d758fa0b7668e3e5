/**
 * The whole HTTP contract of the polls app, through `fastify.inject` on a worker built
 * exactly as in production, against a real PostgreSQL.
 */
import t from 'tap';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { provisionTenant, tableCounts } from '../worker/tenant-db.js';
import { pollsHttpSuite } from './http-suite.js';
import { injectClient } from './inject-client.js';

const pg = await startTestPostgres(t);
const tenant = await provisionTenant(t, pg, 'acme');
const fastify = buildWorker(tenant.config(), { app });
t.teardown(() => fastify.close());

await pollsHttpSuite(t, {
  client: injectClient(fastify, tenant.host),
  tenant: tenant.name,
  counts: () => tableCounts(tenant.inspect),
});
