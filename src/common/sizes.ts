import { SiloError } from './errors.js';

/** "300M" -> bytes (K, M, G are powers of 1024, as PM2 reads max_memory_restart). */
export function bytesOf(size: string): number {
  const m = /^(\d+)([KMG])$/.exec(size);
  if (!m) throw new SiloError(`invalid size "${size.slice(0, 20)}": use a number with K, M or G, e.g. 300M`);
  return Number(m[1]) * 1024 ** ('KMG'.indexOf(m[2]!) + 1);
}
