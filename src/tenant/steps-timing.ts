/**
 * How long each step of an operation took, for its --json output and the bench (where a
 * move's unavailable window goes). Wraps a step list without changing what it does.
 */
import type { Step } from '../common/steps.js';

export function timed<C extends { stepMs: Record<string, number> }>(steps: readonly Step<C>[]): Step<C>[] {
  return steps.map((s) => ({
    ...s,
    async run(c: C) {
      const t0 = performance.now();
      try {
        return await s.run(c);
      } finally {
        c.stepMs[s.name] = Math.round(performance.now() - t0);
      }
    },
  }));
}
