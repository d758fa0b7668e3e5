/**
 * A tenant's parts, in the order they are made (part.ts has the contract): each needs the
 * ones above it (the role its password, the dump role its role, the catalogs the dump role,
 * the worker its schema, the route its worker). `tenant create` ensures them top to bottom,
 * `tenant repair` checks them top to bottom, `tenant remove` removes them bottom to top,
 * `up` ensures the host and stack ones across every tenant.
 */
import type { TenantPart } from './part.js';
import { passwordFile } from './password-file.js';
import { osUser } from './os-user.js';
import { cpuGroup } from './cpu-group.js';
import { role } from './role.js';
import { dumpRole } from './dump-role.js';
import { database } from './database.js';
import { connections } from './connections.js';
import { grants } from './grants.js';
import { catalogs } from './catalogs.js';
import { schema } from './schema.js';
import { worker } from './worker.js';
import { route } from './route.js';

export type { PartContext, TenantPart } from './part.js';
export { passwordFile, osUser, cpuGroup, role, dumpRole, database, connections, grants, catalogs, schema, worker, route };

export const TENANT_PARTS: readonly TenantPart[] = [passwordFile, osUser, cpuGroup, role, dumpRole, database, connections, grants, catalogs, schema, worker, route];
