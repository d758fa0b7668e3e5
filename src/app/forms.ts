/**
 * The HTML side of the app: the page and the two form posts it makes
 * (application/x-www-form-urlencoded, answered 303 back to `/`). Runs in its own
 * encapsulated context so @fastify/formbody and the HTML error page stay here and the
 * JSON API keeps answering 415 to form bodies.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import formbody from '@fastify/formbody';
import { HttpError } from './http-error.js';
import { CONTENT_SECURITY_POLICY, renderErrorPage, renderPollsPage } from './page.js';
import type { PollQueries } from './queries.js';
import { ID_PATTERN, TEXT_PATTERN, idParams } from './schemas.js';

const formText = (maxLength: number) => ({ type: 'string', maxLength, pattern: TEXT_PATTERN }) as const;

const newPollForm = {
  type: 'object',
  required: ['question', 'choices'],
  additionalProperties: false,
  properties: { question: formText(200), choices: formText(2000) },
} as const;

const voteForm = {
  type: 'object',
  required: ['choiceId', 'voter'],
  additionalProperties: false,
  properties: { choiceId: { type: 'string', pattern: ID_PATTERN }, voter: formText(100) },
} as const;

/** The textarea holds one choice per line; blank lines are ignored. */
export function parseChoices(raw: string): string[] {
  const choices = raw
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (choices.length < 2 || choices.length > 10) throw new HttpError(400, 'a poll needs 2 to 10 choices, one per line');
  if (choices.some((c) => [...c].length > 100)) throw new HttpError(400, 'a choice is at most 100 characters');
  return choices;
}

function required(value: string, what: string): string {
  const v = value.trim();
  if (!v) throw new HttpError(400, `${what} is required`);
  return v;
}

function html(reply: FastifyReply): FastifyReply {
  return reply.type('text/html; charset=utf-8').header('content-security-policy', CONTENT_SECURITY_POLICY);
}

export const formRoutes: FastifyPluginAsync<{ polls: PollQueries }> = async (fastify, { polls }) => {
  await fastify.register(formbody);

  // Form users get a page, not JSON; server errors go on to the platform's handler.
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 400 || status >= 500) throw error;
    request.log.info({ err: { code: error.code, message: error.message }, statusCode: status }, 'form rejected');
    return html(reply.code(status)).send(renderErrorPage(fastify.tenant, status, error.message));
  });

  fastify.get('/', async (request, reply) => {
    return html(reply).send(renderPollsPage(fastify.tenant, await polls.list()));
  });

  fastify.post<{ Body: { question: string; choices: string } }>(
    '/polls',
    { schema: { body: newPollForm } },
    async (request, reply) => {
      const question = required(request.body.question, 'a question');
      await polls.create(question, parseChoices(request.body.choices), () => reply.sent);
      return reply.redirect('/', 303);
    },
  );

  fastify.post<{ Params: { id: string }; Body: { choiceId: string; voter: string } }>(
    '/polls/:id/vote',
    { schema: { params: idParams, body: voteForm } },
    async (request, reply) => {
      const voter = required(request.body.voter, 'your name');
      const result = await polls.vote(Number(request.params.id), Number(request.body.choiceId), voter, () => reply.sent);
      if (result.status === 'no-poll') throw new HttpError(404, 'poll not found');
      if (result.status === 'no-choice') throw new HttpError(400, 'that is not a choice of this poll');
      return reply.redirect('/', 303);
    },
  );
};
