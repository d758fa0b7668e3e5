/**
 * The JSON API of the polls app (design.md, "HTTP contract"). Errors are thrown as
 * HttpError and answered by the platform's error handler in Fastify's error shape.
 */
import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from './http-error.js';
import type { PollQueries } from './queries.js';
import * as s from './schemas.js';

interface IdParams {
  id: string;
}

export const apiRoutes: FastifyPluginAsync<{ polls: PollQueries }> = async (fastify, { polls }) => {
  fastify.get('/api/tenant', { schema: { response: { 200: s.tenantInfo } } }, async () => ({
    tenant: fastify.tenant,
  }));

  fastify.get('/api/polls', { schema: { response: { 200: s.pollList } } }, () => polls.list());

  fastify.post<{ Body: { question: string; choices: string[] } }>(
    '/api/polls',
    { schema: { body: s.createPollBody, response: { 201: s.poll } } },
    async (request, reply) => {
      const poll = await polls.create(request.body.question, request.body.choices, () => reply.sent);
      return reply.code(201).send(poll);
    },
  );

  fastify.get<{ Params: IdParams }>(
    '/api/polls/:id',
    { schema: { params: s.idParams, response: { 200: s.poll } } },
    async (request) => {
      const poll = await polls.get(Number(request.params.id));
      if (!poll) throw new HttpError(404, 'poll not found');
      return poll;
    },
  );

  fastify.post<{ Params: IdParams; Body: { choiceId: number; voter: string } }>(
    '/api/polls/:id/votes',
    { schema: { params: s.idParams, body: s.voteBody, response: { 201: s.voteResult } } },
    async (request, reply) => {
      const { choiceId, voter } = request.body;
      const result = await polls.vote(Number(request.params.id), choiceId, voter, () => reply.sent);
      if (result.status === 'no-poll') throw new HttpError(404, 'poll not found');
      if (result.status === 'no-choice') throw new HttpError(400, 'choiceId is not a choice of this poll');
      return reply.code(201).send({ choiceId: result.choiceId, votes: result.votes });
    },
  );

  fastify.delete<{ Params: IdParams }>('/api/polls/:id', { schema: { params: s.idParams } }, async (request, reply) => {
    if (!(await polls.remove(Number(request.params.id)))) throw new HttpError(404, 'poll not found');
    return reply.code(204).send();
  });
};
