/**
 * The polls app as one Fastify plugin: the JSON API and the HTML page with its forms,
 * in sibling contexts, over one set of queries bound to the tenant's pool.
 */
import type { FastifyPluginAsync } from 'fastify';
import './platform.js';
import { apiRoutes } from './api.js';
import { formRoutes } from './forms.js';
import { createPollQueries } from './queries.js';

export const pollsPlugin: FastifyPluginAsync = async (fastify) => {
  const polls = createPollQueries(fastify.sql);
  await fastify.register(apiRoutes, { polls });
  await fastify.register(formRoutes, { polls });
};
