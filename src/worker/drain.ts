/**
 * While the worker closes (a reload: PM2 has started the new process and sent this one
 * SIGINT), every response it still sends says `Connection: close`. Requests in flight
 * when the close began finish normally, but without this their keep-alive connections
 * went back to the proxy's pool: the proxy's next request on one got the closing 503,
 * and its single retry could land on another such connection to the same old process
 * (primary and backup of a silo upstream are the same address), so the client got the
 * 503. Closed instead, the proxy's next connection reaches the new process.
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
