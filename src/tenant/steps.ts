/**
 * The shape every day-2 operation has: an ordered list of named steps over one context,
 * each idempotent (it checks, then acts), run top to bottom. `SILO_CRASH_AT=<op>:<step>`
 * (tests only) kills the process just before that step, to prove a re-run completes.
 */
export interface Step<C> {
  name: string;
  run(ctx: C): Promise<void>;
}

export async function runSteps<C>(op: string, steps: Step<C>[], ctx: C): Promise<C> {
  for (const step of steps) {
    if (process.env.SILO_CRASH_AT === `${op}:${step.name}`) process.kill(process.pid, 'SIGKILL');
    await step.run(ctx);
  }
  return ctx;
}
