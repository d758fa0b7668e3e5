/**
 * The test-only crash hook: SILO_TEST_CRASH_AT=<operation>:<step> (or just <step>) makes
 * the process SIGKILL itself when it reaches that point, so tests can kill a command at
 * each of its steps and check that running it again completes. The step runner
 * (common/steps.ts) calls it before every step; code outside a step list calls it itself.
 */
export function crashPoint(operation: string, step: string): void {
  const at = process.env.SILO_TEST_CRASH_AT;
  if (at && (at === `${operation}:${step}` || at === step)) process.kill(process.pid, 'SIGKILL');
}
