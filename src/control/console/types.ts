/**
 * What the console needs from the control app, handed in when it mounts the plugin: the
 * same token verification and the same jobs as the API (the console never runs an
 * operation itself), and the audit log when there is one.
 */

export interface Caller {
  /** the token's id (shown, and recorded as who acted); never the token */
  id: string;
  scope: 'read' | 'write';
  /** a tenant-scoped token sees and acts on this tenant only */
  tenant?: string;
}

/** One action on one tenant, as the console's forms post it. */
export type ConsoleAction =
  | { action: 'suspend'; tenant: string; message?: string }
  | { action: 'resume' | 'backup' | 'sleep' | 'wake' | 'remove'; tenant: string }
  | { action: 'restore'; tenant: string; backup: string }
  | { action: 'deploy'; tenant: string; release: string };

export interface ConsoleJob {
  id: string;
  /** what it does, e.g. `suspend` */
  kind: string;
  tenant?: string;
  state: string;
  /** names of the steps done so far */
  steps?: string[];
  error?: string;
  createdAt?: string;
  finishedAt?: string;
  /** who started it (a token id, a Unix user) */
  by?: string;
}

export interface ConsoleAuditEntry {
  at: string;
  who: string;
  what: string;
  target?: string;
  result: string;
  /** the one-line error, when it failed */
  error?: string;
}

export interface ConsoleBackend {
  verifyToken(token: string): Promise<Caller | undefined> | Caller | undefined;
  startJob(action: ConsoleAction, caller: Caller): Promise<ConsoleJob>;
  /** recent and running jobs, newest first */
  jobs(): Promise<ConsoleJob[]> | ConsoleJob[];
  job(id: string): Promise<ConsoleJob | undefined> | ConsoleJob | undefined;
  /** a tenant's newest audit entries, if an audit log exists */
  audit?(tenant: string, limit: number): Promise<ConsoleAuditEntry[]> | ConsoleAuditEntry[];
}

export const FINISHED = new Set(['done', 'failed']);
