/**
 * A tenant creation as a person or a program asks for it (`silo tenant create` flags,
 * `POST /v1/tenants` fields): the limits parsed as the CLI always parsed them, the new
 * tenant on the stack's app release, then createTenant. One place for both callers.
 */
import type { SiloConfig } from '../common/config.js';
import { parseCeiling, parseLimit } from '../isolation/limits.js';
import { stackRelease } from '../apps/stack-app.js';
import { createTenant, type CreateResult } from './create.js';

export interface CreateInput {
  domains?: string[];
  server?: string;
  maxMemory?: string;
  rate?: string;
  cpu?: string;
  pids?: string;
  dbSize?: string;
  hibernateAfter?: string;
}

/** Bad input fails here, before anything is made. */
export function parseCreateInput(input: CreateInput) {
  return {
    domains: input.domains?.length ? input.domains : undefined,
    server: input.server,
    maxMemory: input.maxMemory,
    rate: input.rate === undefined ? undefined : parseLimit('rate', input.rate),
    cpu: input.cpu === undefined ? undefined : parseLimit('cpu', input.cpu),
    pids: input.pids === undefined ? undefined : (parseCeiling('pids', input.pids) as number),
    dbSize: input.dbSize === undefined ? undefined : (parseCeiling('db-size', input.dbSize) as string),
    hibernateAfter: input.hibernateAfter,
  };
}

export async function createFromInput(cfg: SiloConfig, name: string, input: CreateInput): Promise<CreateResult> {
  const opts = parseCreateInput(input);
  const release = await stackRelease(cfg);
  return createTenant(cfg, name, { ...opts, release });
}
