/**
 * REQUEST_TIMEOUT_MS for every request: one not answered by then gets 503 "request timed
 * out" (408 if its body is still arriving, see errors.ts), through the error handler.
 *
 * Not Fastify's `handlerTimeout`: in Fastify 5.12 it clears its timer on the raw
 * request's 'close' event, which Node emits as soon as a body has been read, so any
 * request with a body (every POST) had no deadline at all and waited on a stalled
 * database for ever (fastify/fastify#6725). This timer is cleared only when the response
 * is finished or its connection is gone.
 */
import fp from 'fastify-plugin';

export class RequestTimeoutError extends Error {
  readonly code = 'SILO_REQUEST_TIMEOUT';
  readonly statusCode = 503;
}

export const deadlinePlugin = fp(
  async (fastify) => {
    const ms = fastify.config.requestTimeoutMs;
    fastify.addHook('onRequest', async (request, reply) => {
      const timer = setTimeout(() => {
        if (reply.sent || reply.raw.headersSent) return;
        void reply.send(new RequestTimeoutError(`no answer within ${ms} ms`));
      }, ms);
      reply.raw.once('close', () => clearTimeout(timer));
    });
  },
  { name: 'deadline', dependencies: ['config'], fastify: '5.x' },
);
