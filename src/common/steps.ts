/**
 * The step runner. Every tenant operation (create, remove, backup, restore, move,
 * suspend, repair, ...) is one module that reads top to bottom as an ordered list of
 * named, idempotent steps, run by `runSteps`:
 *
 *   const steps: Step<CreateContext>[] = [
 *     { name: 'role', done: (c) => roleIsAligned(c), run: (c) => ensureRole(c) },
 *     { name: 'database', run: (c) => ensureDatabase(c) },
 *     ...
 *   ];
 *   await withRegistryLock(paths.registry, () => runSteps('create', steps, ctx));
 *
 * The convention:
 * - `name`: short, kebab-case, unique in its list; it is how tests and `repair` name a step.
 * - `done(ctx)` (optional) checks whether the world is already as the step leaves it;
 *   when it says yes the step is skipped. `run(ctx)` acts, and must itself be safe to
 *   repeat: a crash can land in the middle of it, after `done` said no. A step without
 *   `done` always runs (it checks inside, like `ensureDatabase`).
 * - A step recognises its own half-done work: an object named like a tenant the
 *   registry holds as `provisioning` (or `removing`) is silo's, whatever happened to its
 *   marker comment.
 * - The operation holds the registry lock around the whole list, so the PM2 and proxy
 *   steps render from the registry as it is at that moment, and no other command runs
 *   a step on the same world meanwhile. The lock of a crashed command is taken over at
 *   once (registry/lock.ts).
 * - Steps share one context object the operation defines (config, tenant name, the
 *   registry as read under the lock, what earlier steps found).
 * - `runSteps` returns which steps acted and which were already done, for `repair`.
 *
 * Test hook (the one name every operation and test uses): SILO_TEST_CRASH_AT=<operation>:<step>
 * (or just <step>) makes the process
 * SIGKILL itself just before that step acts, so tests can kill a command at each of its
 * steps and check that running it again completes. Code outside a step list can offer a
 * crash point too, with `crashPoint(operation, name)`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { crashPoint, holdPoint } from './crash-point.js';

export interface Step<C> {
  name: string;
  done?: (ctx: C) => boolean | Promise<boolean>;
  run: (ctx: C) => unknown | Promise<unknown>;
}

export interface StepReport {
  step: string;
  /** false: `done` said the step had nothing to do */
  acted: boolean;
}

export { crashPoint };

/** Where a step list stopped: the step whose check or action threw, and the steps before it. */
export interface StepFailure {
  operation: string;
  step: string;
  ran: StepReport[];
}

const failures = new WeakMap<object, StepFailure>();

/** The step list an error stopped (the outermost one, when an operation runs another's steps). */
export function stepFailure(err: unknown): StepFailure | undefined {
  return typeof err === 'object' && err !== null ? failures.get(err) : undefined;
}

/** Told of each step as it finishes ("<operation>:<step>", and whether it acted). */
export type StepObserver = (operation: string, report: StepReport) => void;
const observers = new AsyncLocalStorage<StepObserver>();

/**
 * Run `fn` with `observer` told of every step any step list under it finishes (a job of
 * the control API records its progress this way; nothing else changes for the steps).
 */
export function observeSteps<T>(observer: StepObserver, fn: () => Promise<T>): Promise<T> {
  return observers.run(observer, fn);
}

/** Run `steps` in order; a step that throws stops the list (its error propagates, see stepFailure). */
export async function runSteps<C>(operation: string, steps: readonly Step<C>[], ctx: C): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  for (const step of steps) {
    try {
      if (step.done && (await step.done(ctx))) {
        reports.push({ step: step.name, acted: false });
        observers.getStore()?.(operation, reports.at(-1)!);
        continue;
      }
      crashPoint(operation, step.name);
      await holdPoint(operation, step.name);
      await step.run(ctx);
    } catch (err) {
      if (typeof err === 'object' && err !== null) failures.set(err, { operation, step: step.name, ran: [...reports] });
      throw err;
    }
    reports.push({ step: step.name, acted: true });
    observers.getStore()?.(operation, reports.at(-1)!);
  }
  return reports;
}

/** The names of a step list, in order (for tests that kill an operation at each step). */
export function stepNames<C>(steps: readonly Step<C>[]): string[] {
  return steps.map((s) => s.name);
}
