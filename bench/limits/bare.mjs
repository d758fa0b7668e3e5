/**
 * NOT PART OF SILO. Benchmark limit only: a bare Fastify route returning a constant, no
 * logger, no hooks, no database. The ceiling any worker could reach on this machine.
 * Environment: PORT.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const body = { ok: true };
app.get('/', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => body);

process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
process.once('SIGINT', () => app.close().then(() => process.exit(0)));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
