/**
 * While the worker closes (a restart: PM2 sent it SIGINT, its socket is already unlinked),
 * every response it still sends says `Connection: close`, so a proxy that keeps
 * connections alive (Caddy) does not send its next request on one that is about to be
 * closed: that request then finds no socket and waits in the wake path for the next
 * process instead.
 */
import fp from 'fastify-plugin';

export const drainPlugin = fp(
  async (fastify) => {
    let closing = false;
    fastify.addHook('preClose', async () => {
      closing = true;
    });
    fastify.addHook('onSend', async (request, reply) => {
      if (closing && request.raw.httpVersionMajor === 1) void reply.header('connection', 'close');
    });
  },
  { name: 'drain', fastify: '5.x' },
);
