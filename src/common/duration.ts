/**
 * Idle durations for hibernation (`SILO_HIBERNATE_AFTER`, `tenant create
 * --hibernate-after`): `0` (never), or a whole number with a unit, `500ms`, `30s`,
 * `15m`, `2h`. One rule, used by the config schema, `tenant create` and the waker.
 */
export const DURATION_PATTERN = '^(0|[1-9][0-9]{0,6}(ms|s|m|h))$';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds, 0 for "never"; throws on anything else. */
export function parseDuration(text: string): number {
  const m = /^(0|([1-9][0-9]{0,6})(ms|s|m|h))$/.exec(text);
  if (!m) throw new Error(`invalid duration "${String(text).slice(0, 20)}": use 0 (never) or a number with ms, s, m or h, e.g. 15m`);
  if (m[1] === '0') return 0;
  return Number(m[2]) * UNIT_MS[m[3] as keyof typeof UNIT_MS];
}

export function isDuration(text: string): boolean {
  return new RegExp(DURATION_PATTERN).test(text);
}

/** "3s", "4m", "2h", "5d": how long ago, for `silo status`. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
