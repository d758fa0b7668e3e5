/**
 * Logger options: every line carries the tenant (pino `base`), secrets are redacted
 * wherever they might appear.
 */
import type { FastifyServerOptions } from 'fastify';
import type { WorkerConfig } from './config.js';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'password',
  '*.password',
  '*.pass',
  'db.password',
];

export function loggerOptions(config: WorkerConfig, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    base: { tenant: config.tenant, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(stream ? { stream } : {}),
  };
}
