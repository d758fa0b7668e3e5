/**
 * Scenario 3a: the victim tenant's own PostgreSQL server is stopped, then started again.
 */
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { databaseFaultScenario } from '../helpers/db-faults.js';

t.setTimeout(170_000);

await databaseFaultScenario(t, 'db-stopped', async (t) => {
  const pg = await startTestPostgres(t);
  return {
    serverUrl: pg.adminUrl,
    fail: () => pg.stop(),
    heal: () => pg.start(),
    outageMs: 5000,
  };
});
