/**
 * Which request bodies the worker reads. JSON only at this level (an app adds its own,
 * e.g. @fastify/formbody, in its context); anything else is 415. The JSON parser is
 * Fastify's, but strict about encoding: by default Fastify decodes the body as UTF-8 and
 * silently turns invalid bytes into U+FFFD; here that is a 400, before anything reaches
 * the app or the database.
 */
import fp from 'fastify-plugin';
import { isUtf8 } from 'node:buffer';

class InvalidEncodingError extends Error {
  readonly statusCode = 400;
  readonly code = 'SILO_INVALID_UTF8';
}

export const bodyParsersPlugin = fp(
  async (fastify) => {
    const parseJson = fastify.getDefaultJsonParser('error', 'error');
    fastify.removeContentTypeParser(['application/json', 'text/plain']);
    fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const buf = body as Buffer;
      if (!isUtf8(buf)) {
        done(new InvalidEncodingError('body is not valid UTF-8'), undefined);
        return;
      }
      parseJson(request, buf.toString('utf8'), done);
    });
  },
  { name: 'body-parsers', fastify: '5.x' },
);
