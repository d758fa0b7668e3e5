/**
 * A tenant app for silo, in plain JavaScript, with its own package.json, migrations and
 * dependencies (`ms` parses "2h"-style expiry times). silo runs one worker per tenant
 * with this module loaded; `fastify.sql` is that tenant's own database, as its own role.
 *
 *   GET  /api/notes            -> [{ id, text, createdAt, expiresAt }] (unexpired, by id)
 *   POST /api/notes {text, expiresIn?: "90m"} -> 201 with the note
 *   GET  /api/version          -> { app, version } (which release serves this tenant)
 */
import { readFileSync } from 'node:fs';
import ms from 'ms';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export const name = 'notes';
export const migrationsDir = new URL('./migrations/', import.meta.url).pathname;

const noteSchema = {
  type: 'object',
  required: ['text'],
  additionalProperties: false,
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 2000 },
    expiresIn: { type: 'string', maxLength: 20 },
  },
};

const row = (n) => ({ id: Number(n.id), text: n.text, createdAt: n.created_at, expiresAt: n.expires_at });

/** @param {import('fastify').FastifyInstance & { sql: any, tenant: string }} fastify */
export async function plugin(fastify) {
  const { sql } = fastify;

  fastify.get('/api/version', async () => ({ app: name, version: pkg.version }));

  fastify.get('/api/notes', async () => {
    const notes = await sql`select * from notes where expires_at is null or expires_at > now() order by id`;
    return notes.map(row);
  });

  fastify.post('/api/notes', { schema: { body: noteSchema } }, async (request, reply) => {
    const { text, expiresIn } = request.body;
    let expiresAt = null;
    if (expiresIn !== undefined) {
      const millis = ms(expiresIn);
      if (typeof millis !== 'number' || !(millis > 0)) {
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `expiresIn "${expiresIn}" is not a duration like 90m or 2h` });
      }
      expiresAt = new Date(Date.now() + millis);
    }
    const [note] = await sql`insert into notes (text, expires_at) values (${text}, ${expiresAt}) returning *`;
    return reply.code(201).send(row(note));
  });
}

/** Sample notes for the demo tenants `silo up` creates (client1, client2). */
export async function seed(sql, tenant) {
  const [{ n }] = await sql`select count(*)::int as n from notes`;
  if (n > 0) return;
  await sql`insert into notes (text) values (${`Welcome to ${tenant}: these notes live in ${tenant}'s own database.`})`;
}
