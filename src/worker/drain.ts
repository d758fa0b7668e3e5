/**
 * While the worker closes (a restart: PM2 sent it SIGINT), every response it still sends
 * says `Connection: close`, from the moment its socket is unlinked (`fastify.drain()`,
 * called by start.ts) or at the latest when Fastify starts closing. A proxy that keeps
 * connections alive (nginx's keep-alive upstreams, Caddy) then stops sending requests on
 * them and closes them itself, so none is idle when the server closes its idle
 * connections: a request sent on one at that instant would be reset, and the proxy could
 * not tell that it was never served. The next request finds no socket and waits in the
 * wake path for the next process instead.
 */
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** From now on, every response closes its connection. */
    drain(): void;
  }
}

export const drainPlugin = fp(
  async (fastify) => {
    let closing = false;
    fastify.decorate('drain', () => {
      closing = true;
    });
    fastify.addHook('preClose', async () => {
      closing = true;
    });
    fastify.addHook('onSend', async (request, reply) => {
      if (closing && request.raw.httpVersionMajor === 1) void reply.header('connection', 'close');
    });
  },
  { name: 'drain', fastify: '5.x' },
);
