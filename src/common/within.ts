/**
 * A promise's answer, or undefined once `ms` have passed without one. A rejection stays a
 * rejection (a caller that wants none adds `.catch`); one that comes after the deadline is
 * handled, not unhandled. The timer is cleared either way, so it never holds a process open.
 * No imports: the worker bundle uses it too.
 */
export function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
