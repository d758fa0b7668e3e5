/**
 * What the fleet's charts draw: every `everyMs` the console samples each tenant's worker
 * memory (PM2's view) and, when a source of request counts is given (the workers'
 * cumulative counters), its requests per minute since the previous sample. It keeps the
 * last `keep` samples per tenant in memory (1,000 tenants x 40 samples x 2 numbers), so a
 * chart starts empty after the control process starts.
 */

export interface Reading {
  memoryMB?: number;
  /** requests served since the worker started (a counter) */
  requests?: number;
}

export interface SamplerOptions {
  everyMs: number;
  keep: number;
  read: () => Promise<Map<string, Reading>>;
}

interface Series {
  rpm: number[];
  memoryMB: number[];
  lastRequests?: number;
  lastAt?: number;
}

export function createSampler(opts: SamplerOptions) {
  const series = new Map<string, Series>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const push = (a: number[], v: number) => {
    a.push(v);
    if (a.length > opts.keep) a.shift();
  };

  async function sample(now = Date.now()): Promise<void> {
    const readings = await opts.read();
    for (const name of series.keys()) if (!readings.has(name)) series.delete(name);
    for (const [name, r] of readings) {
      let s = series.get(name);
      if (!s) series.set(name, (s = { rpm: [], memoryMB: [] }));
      push(s.memoryMB, r.memoryMB ?? 0);
      if (r.requests !== undefined) {
        // A counter that went down is a restarted worker: count from zero.
        if (s.lastRequests !== undefined && s.lastAt !== undefined && now > s.lastAt) {
          const delta = r.requests >= s.lastRequests ? r.requests - s.lastRequests : r.requests;
          push(s.rpm, (delta * 60_000) / (now - s.lastAt));
        }
        s.lastRequests = r.requests;
        s.lastAt = now;
      }
    }
  }

  return {
    sample,
    start(): void {
      if (timer) return;
      const tick = () => {
        running ??= sample()
          .catch(() => undefined) // a failed sample leaves a gap, nothing more
          .finally(() => (running = undefined));
      };
      tick();
      timer = setInterval(tick, opts.everyMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    /** the latest requests per minute, if known */
    rpm: (name: string): number | undefined => series.get(name)?.rpm.at(-1),
    rpmSeries: (name: string): number[] => series.get(name)?.rpm ?? [],
    memorySeries: (name: string): number[] => series.get(name)?.memoryMB ?? [],
  };
}

export type Sampler = ReturnType<typeof createSampler>;
