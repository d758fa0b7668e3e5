/**
 * The test-only crash hook: SILO_TEST_CRASH_AT=<operation>:<step> (or just <step>) makes
 * the process SIGKILL itself when it reaches that point, so tests can kill a command at
 * each of its steps and check that running it again completes. The step runner
 * (common/steps.ts) calls it before every step; code outside a step list calls it itself.
 */
import { existsSync, writeFileSync } from 'node:fs';

export function crashPoint(operation: string, step: string): void {
  const at = process.env.SILO_TEST_CRASH_AT;
  if (at && (at === `${operation}:${step}` || at === step)) process.kill(process.pid, 'SIGKILL');
}

/**
 * The test-only hold hook: SILO_TEST_HOLD_AT=<operation>:<step> with SILO_TEST_HOLD_FILE=<path>
 * makes the process write its pid to that file when it reaches that point and wait there
 * until the test deletes it (to start another command while this one is mid-way).
 */
export async function holdPoint(operation: string, step: string): Promise<void> {
  const file = process.env.SILO_TEST_HOLD_FILE;
  if (!file || process.env.SILO_TEST_HOLD_AT !== `${operation}:${step}`) return;
  writeFileSync(file, String(process.pid));
  while (existsSync(file)) await new Promise((r) => setTimeout(r, 50));
}
