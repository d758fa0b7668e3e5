/**
 * What a tenant's worker counts of the requests it answers and writes to its counts file
 * (src/common/run-dir.ts names it), for the control plane's /metrics (src/metrics/): the
 * number of responses per status class and a latency histogram over fixed buckets, since
 * the process started. Small and fixed in shape, so the reader can check it strictly: the
 * file is written by the tenant's own process, so a tenant can only misstate its own
 * numbers, never name another tenant or add a series.
 * Imports nothing (src/contract/ is the bottom layer).
 */

/** Status classes counted; anything else (1xx) is not. */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Upper bounds of the latency buckets, seconds (the last bucket, +Inf, is implied). Few, so 1,000 tenants stay cheap. */
export const LATENCY_BUCKETS_S = [0.005, 0.025, 0.1, 0.5, 2.5] as const;

/** The counts file, version 1. */
export interface RequestCounts {
  v: 1;
  /** epoch ms when the counting process started (a new process starts from zero) */
  since: number;
  /** responses per status class */
  classes: Record<StatusClass, number>;
  /** responses per latency bucket, not cumulative: LATENCY_BUCKETS_S.length + 1 entries, the last one above every bound */
  buckets: number[];
  /** the sum of every latency, seconds */
  sum: number;
}

/** Largest counts file a reader accepts, bytes. */
export const REQUEST_COUNTS_MAX_BYTES = 1024;

/** A busy worker writes its counts at most this often. */
export const REQUEST_COUNTS_EVERY_MS = 1000;

const count = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER;

/** The counts in `text` if it is exactly a counts file, else undefined (the reader trusts nothing else). */
export function parseRequestCounts(text: string): RequestCounts | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const classes = r.classes as Record<string, unknown> | undefined;
  if (r.v !== 1 || !count(r.since) || !count(r.sum) || !classes || typeof classes !== 'object') return undefined;
  if (!Array.isArray(r.buckets) || r.buckets.length !== LATENCY_BUCKETS_S.length + 1 || !r.buckets.every(count)) return undefined;
  if (!STATUS_CLASSES.every((c) => count(classes[c]))) return undefined;
  return {
    v: 1,
    since: r.since,
    classes: Object.fromEntries(STATUS_CLASSES.map((c) => [c, classes[c] as number])) as Record<StatusClass, number>,
    buckets: [...(r.buckets as number[])],
    sum: r.sum,
  };
}
