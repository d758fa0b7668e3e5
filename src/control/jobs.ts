/**
 * Jobs of the control API: an operation asked for over HTTP, run in the `control`
 * process, its state kept in a file of its own ($SILO_HOME/control/jobs/<id>.json, 0600,
 * replaced atomically at each change) so that it outlives the process.
 *
 * A job is queued, then running (each step its operation finishes is appended to
 * `steps`), then done (with the operation's result) or failed (with its one-line error).
 * When `control` starts it runs again every job left queued or running: the operations
 * are idempotent step lists, so running one again after a crash completes it (README:
 * "Every tenant operation ... running it again after a crash completes it").
 *
 * Finished jobs are kept a week (`keepFinishedMs`), then deleted when `control` next starts.
 *
 * Idempotency-Key: a job remembers the key it was asked with and a hash of the request
 * (operation and parameters). The same key with the same request is the same job; with
 * another request it is a conflict (409).
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../common/atomic-file.js';
import { homePaths } from '../common/paths.js';
import { observeSteps } from '../common/steps.js';

export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface Job {
  id: string;
  operation: string;
  params: Record<string, unknown>;
  /** the tenant it acts on (none: the fleet) */
  tenant?: string;
  state: JobState;
  /** "<operation>:<step>" of each step finished, in order (of the latest attempt) */
  steps: string[];
  error?: string;
  result?: unknown;
  /** 1, or more when `control` restarted while it ran */
  attempts: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** the token that asked for it (its id, never its secret) */
  token?: string;
  idempotencyKey?: string;
  requestHash?: string;
}

/** What a job runs: an operation of control/operations.ts with its parameters. */
export type Runner = (job: Job) => Promise<unknown>;

export class IdempotencyConflict extends Error {}

export const requestHash = (operation: string, params: unknown) => createHash('sha256').update(JSON.stringify([operation, params])).digest('hex');

/** The public view of a job (what GET /v1/jobs/<id> answers). */
export function jobView(j: Job) {
  const { requestHash: _h, params: _p, ...view } = j;
  return view;
}

export interface JobStoreOptions {
  /** jobs running at once (each operation takes its tenant's lock, so two on one tenant queue there) */
  concurrency?: number;
  log?: (fields: Record<string, unknown>) => void;
  /** told when a job finishes (the events layer's hook: a webhook for the sign-up flow) */
  onFinished?: (job: Job) => void;
  /** finished jobs older than this are deleted when a store opens (default 7 days; their Idempotency-Keys go with them) */
  keepFinishedMs?: number;
}

export class JobStore {
  private readonly dir: string;
  private readonly jobs = new Map<string, Job>();
  private readonly queue: string[] = [];
  private runningCount = 0;
  private readonly concurrency: number;
  private idle: Promise<void> = Promise.resolve();
  private settleIdle: () => void = () => undefined;

  constructor(
    home: string,
    private readonly run: Runner,
    private readonly opts: JobStoreOptions = {},
  ) {
    this.dir = homePaths(home).controlJobs;
    this.concurrency = opts.concurrency ?? 4;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    for (const f of readdirSync(this.dir)) {
      if (!/^job_[0-9a-f]+\.json$/.test(f)) continue;
      try {
        const j = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as Job;
        const finished = j.finishedAt ? Date.parse(j.finishedAt) : NaN;
        if (finished < Date.now() - (opts.keepFinishedMs ?? 7 * 86_400_000)) rmSync(join(this.dir, f), { force: true });
        else this.jobs.set(j.id, j);
      } catch {
        // a file that does not parse is not a job (writes are atomic: it was not ours)
      }
    }
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  list(): Job[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /**
   * A new job for `operation`, queued; or, with an Idempotency-Key already used, the job
   * it made (IdempotencyConflict when that key came with another request).
   */
  submit(operation: string, params: Record<string, unknown>, meta: { tenant?: string; token?: string; idempotencyKey?: string }): { job: Job; existing: boolean } {
    const hash = requestHash(operation, params);
    if (meta.idempotencyKey !== undefined) {
      const prior = [...this.jobs.values()].find((j) => j.idempotencyKey === meta.idempotencyKey);
      if (prior) {
        if (prior.requestHash !== hash) throw new IdempotencyConflict(`Idempotency-Key "${meta.idempotencyKey}" was used for another request (job ${prior.id})`);
        return { job: prior, existing: true };
      }
    }
    const job: Job = {
      id: 'job_' + randomBytes(8).toString('hex'),
      operation,
      params,
      ...(meta.tenant !== undefined ? { tenant: meta.tenant } : {}),
      state: 'queued',
      steps: [],
      attempts: 0,
      createdAt: new Date().toISOString(),
      ...(meta.token !== undefined ? { token: meta.token } : {}),
      ...(meta.idempotencyKey !== undefined ? { idempotencyKey: meta.idempotencyKey } : {}),
      requestHash: hash,
    };
    this.save(job);
    this.enqueue(job.id);
    return { job, existing: false };
  }

  /** At start: every job a previous process left queued or running runs again, oldest first. */
  resume(): Job[] {
    const unfinished = [...this.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'running').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const j of unfinished) {
      j.state = 'queued';
      this.save(j);
      this.enqueue(j.id);
    }
    return unfinished;
  }

  /** Resolves when no job is queued or running (tests, a graceful stop). */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  private save(job: Job): void {
    this.jobs.set(job.id, job);
    writeFileAtomic(join(this.dir, `${job.id}.json`), JSON.stringify(job, null, 2) + '\n', 0o600);
  }

  private enqueue(id: string): void {
    if (this.queue.length === 0 && this.runningCount === 0) this.idle = new Promise((r) => (this.settleIdle = r));
    this.queue.push(id);
    // After the caller has answered (the 202 says "queued"); then at most `concurrency` at once.
    setImmediate(() => this.pump());
  }

  private pump(): void {
    while (this.runningCount < this.concurrency && this.queue.length > 0) {
      const job = this.jobs.get(this.queue.shift()!)!;
      this.runningCount++;
      void this.execute(job).finally(() => {
        this.runningCount--;
        if (this.queue.length === 0 && this.runningCount === 0) this.settleIdle();
        this.pump();
      });
    }
  }

  private async execute(job: Job): Promise<void> {
    job.state = 'running';
    job.attempts++;
    job.steps = [];
    job.startedAt = new Date().toISOString();
    this.save(job);
    this.opts.log?.({ job: job.id, operation: job.operation, tenant: job.tenant, state: 'running', attempt: job.attempts });
    try {
      job.result = await observeSteps(
        (operation, report) => {
          job.steps.push(`${operation}:${report.step}`);
          this.save(job);
        },
        () => this.run(job),
      );
      job.state = 'done';
    } catch (err) {
      job.state = 'failed';
      job.error = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    }
    job.finishedAt = new Date().toISOString();
    this.save(job);
    this.opts.log?.({ job: job.id, operation: job.operation, tenant: job.tenant, state: job.state, ...(job.error ? { error: job.error } : {}) });
    try {
      this.opts.onFinished?.(job);
    } catch {
      // a hook never fails the job
    }
  }
}
