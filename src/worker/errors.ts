/**
 * The worker's one error handler. Clients get Fastify's JSON error shape
 * (`statusCode`, `error`, `message`): a 4xx keeps its message (validation, bad JSON,
 * 413, 415...), anything else gets a generic one. Stack traces, SQL text and driver
 * messages only go to the log, with the request's context.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

// The database cannot be reached or refused us for now: the client may retry later.
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ENOENT', // the embedded server's Unix socket is gone: it is stopped
  'AUTH_METHOD_REFUSED', // something that is not our server answered (contract/pg-connect.ts)
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'SECRET_FILE_UNUSABLE',
  '3D000', // the database does not exist (yet, or any more)
  // The server ended the session for sitting idle inside a transaction: after a network
  // stall (db-blackhole) it arrives when the link heals, and postgres.js fails every
  // query sent on that connection with it, later ones included (a GET pipelined behind).
  '25P03',
]);
// SQLSTATE classes: 08 connection exception, 28 authorization, 53 insufficient
// resources (53300 too many connections), 57P admin/crash shutdown, cannot connect now.
const UNAVAILABLE_CLASS = /^(08|28|53|57P)/;

export function classify(
  err: { code?: unknown; statusCode?: unknown; status?: unknown; message?: string },
  /** `requestComplete: false`: the request body had not fully arrived when this happened */
  ctx: { requestComplete?: boolean } = {},
): {
  statusCode: number;
  message: string;
} {
  const code = typeof err.code === 'string' ? err.code : '';
  const timedOut = code === 'SILO_REQUEST_TIMEOUT' || code === 'FST_ERR_HANDLER_TIMEOUT';
  // A request still arriving when its time ran out is the client's slowness, not ours.
  if (timedOut && ctx.requestComplete === false) return { statusCode: 408, message: 'the request took too long to arrive' };
  if (timedOut) return { statusCode: 503, message: 'request timed out' };
  if (UNAVAILABLE.has(code) || UNAVAILABLE_CLASS.test(code)) {
    return { statusCode: 503, message: 'database unavailable' };
  }
  if (code === '57014') return { statusCode: 503, message: 'database timed out' };
  if (/^40/.test(code)) return { statusCode: 503, message: 'database busy, try again' };
  // Input the schemas should have caught; never worth a 500.
  if (/^22/.test(code)) return { statusCode: 400, message: 'invalid input' };
  if (/^23/.test(code)) return { statusCode: 409, message: 'conflict with the current state' };

  const raw = typeof err.statusCode === 'number' ? err.statusCode : typeof err.status === 'number' ? err.status : 500;
  const statusCode = raw >= 400 && raw <= 599 ? raw : 500;
  if (statusCode < 500) return { statusCode, message: err.message || STATUS_CODES[statusCode] || 'error' };
  return { statusCode, message: (STATUS_CODES[statusCode] ?? 'Internal Server Error').toLowerCase() };
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { statusCode, message } = classify(error, { requestComplete: request.raw.complete });
  if (statusCode >= 500) request.log.error({ err: error, statusCode }, 'request failed');
  else request.log.info({ err: { code: error.code, message: error.message }, statusCode }, 'request rejected');
  // Answered before the request has fully arrived: close the connection rather than keep
  // reading (and waiting for) the rest of a body nobody will use.
  if (!request.raw.complete) void reply.header('connection', 'close');
  void reply.code(statusCode).type('application/json; charset=utf-8').send(errorBody(statusCode, message));
}
