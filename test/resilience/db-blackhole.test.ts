/**
 * Scenario 3b: the victim tenant's database server "accepts and never answers": a TCP
 * forwarder between the worker and the server stops forwarding (new connections are
 * accepted and ignored, established ones are frozen), then resumes.
 */
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { databaseFaultScenario, REQUEST_TIMEOUT_MS } from '../helpers/db-faults.js';
import { Forwarder } from '../helpers/resilience.js';

t.setTimeout(170_000);

await databaseFaultScenario(t, 'db-blackhole', async (t) => {
  const pg = await startTestPostgres(t);
  const fwd = new Forwarder(pg.port);
  await fwd.listen();
  t.teardown(() => fwd.close());
  const url = new URL(pg.adminUrl);
  url.port = String(fwd.port);
  return {
    serverUrl: url.toString(),
    fail: async () => fwd.blackhole(),
    heal: async () => fwd.resume(),
    // Long enough for requests that started inside the outage to hit their timeouts.
    outageMs: REQUEST_TIMEOUT_MS + 3000,
  };
});
