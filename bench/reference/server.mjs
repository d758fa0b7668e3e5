/**
 * NOT PART OF SILO. Benchmark reference only, never deployed or imported by src/.
 *
 * The design a user would build instead of silo: ONE Fastify process serving every
 * tenant, choosing a postgres.js pool per request by the Host header. It serves the two
 * benchmarked endpoints with silo's own routes' schemas and queries (imported from the
 * compiled polls app), against the same tenant databases with the same credentials
 * (read from $SILO_HOME/registry.json and $SILO_HOME/secrets/tenants/<name>.password).
 * This per-request tenant switching is exactly what silo's design rules out; it is here
 * to measure what the process-per-tenant isolation costs in throughput and memory.
 *
 * Environment: SILO_HOME, PORT, TENANTS (comma-separated), POOL_MAX (per tenant, default
 * 4 like SILO_POOL_MAX), SILO_DOMAIN (default localhost), LOG_LEVEL (default info, like
 * the workers: two log lines per request, to stdout).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import postgres from 'postgres';
import { createPollQueries } from '../../dist/app/queries.js';
import { idParams, pollList, voteBody, voteResult } from '../../dist/app/schemas.js';

const home = process.env.SILO_HOME;
const port = Number(process.env.PORT);
const poolMax = Number(process.env.POOL_MAX ?? 4);
const domain = process.env.SILO_DOMAIN ?? 'localhost';
const registry = JSON.parse(readFileSync(join(home, 'registry.json'), 'utf8'));
const names = (process.env.TENANTS ?? Object.keys(registry.tenants).join(',')).split(',').filter(Boolean);

const tenants = new Map();
const pools = [];
for (const name of names) {
  const entry = registry.tenants[name];
  const server = registry.servers[entry.server];
  const password = readFileSync(join(home, 'secrets', 'tenants', `${name}.password`), 'utf8').trim();
  // The same pool settings as a silo worker (src/worker/db.ts).
  const sql = postgres({
    host: server.host,
    port: server.port,
    database: name,
    username: name,
    password,
    max: poolMax,
    connect_timeout: 3,
    idle_timeout: 60,
    connection: { application_name: 'bench-reference', statement_timeout: 5000 },
    onnotice: () => {},
  });
  pools.push(sql);
  const tenant = { name, polls: createPollQueries(sql) };
  for (const host of [`${name}.${domain}`, ...entry.domains]) tenants.set(host, tenant);
}

const error = (statusCode, err, message) => ({ statusCode, error: err, message });

const app = Fastify({
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
  trustProxy: '127.0.0.1',
  bodyLimit: 65536,
  ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
});
app.decorateRequest('tenant', null);
app.addHook('onRequest', async (request, reply) => {
  const host = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const tenant = tenants.get(host);
  if (!tenant) return reply.code(404).send(error(404, 'Not Found', 'no tenant serves this host'));
  request.tenant = tenant;
});

app.get('/api/polls', { schema: { response: { 200: pollList } } }, (request) => request.tenant.polls.list());

app.post(
  '/api/polls/:id/votes',
  { schema: { params: idParams, body: voteBody, response: { 201: voteResult } } },
  async (request, reply) => {
    const { choiceId, voter } = request.body;
    const result = await request.tenant.polls.vote(Number(request.params.id), choiceId, voter);
    if (result.status === 'no-poll') return reply.code(404).send(error(404, 'Not Found', 'poll not found'));
    if (result.status === 'no-choice') return reply.code(400).send(error(400, 'Bad Request', 'choiceId is not a choice of this poll'));
    return reply.code(201).send({ choiceId: result.choiceId, votes: result.votes });
  },
);

async function close() {
  await app.close();
  await Promise.all(pools.map((sql) => sql.end({ timeout: 2 })));
  process.exit(0);
}
process.once('SIGTERM', close);
process.once('SIGINT', close);

await app.listen({ host: '127.0.0.1', port });
