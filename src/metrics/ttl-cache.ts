/**
 * A value loaded at most once per `ttlMs` (concurrent callers share one load): what is
 * costly to measure (database sizes, certificates, backup files) is measured again only
 * when it is older than its TTL, whatever the scrape rate. A failed load is not cached.
 */
export function ttlCache<T>(ttlMs: number, load: () => Promise<T>): () => Promise<T> {
  let at = -Infinity;
  let value: T | undefined;
  let loading: Promise<T> | undefined;
  return async () => {
    if (Date.now() - at < ttlMs) return value as T;
    loading ??= load()
      .then((v) => {
        value = v;
        at = Date.now();
        return v;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };
}
