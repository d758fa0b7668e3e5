/** Test helper (no tests here): an HttpClient over `fastify.inject`, with a default Host. */
import type { FastifyInstance, HTTPMethods } from 'fastify';
import type { HttpClient } from './http-suite.js';

export function injectClient(fastify: FastifyInstance, host: string): HttpClient {
  return async (req) => {
    const res = await fastify.inject({
      method: req.method as HTTPMethods,
      url: req.url,
      headers: { host, ...req.headers },
      ...(req.payload !== undefined ? { payload: req.payload } : {}),
    });
    return { statusCode: res.statusCode, headers: res.headers, body: res.body };
  };
}
