/**
 * Reads the request counts each worker writes in its run folder
 * (src/contract/request-counts.ts). The file is the tenant's own, so it is read as
 * untrusted input: not through a symbolic link, not a FIFO or anything but a regular
 * file, at most REQUEST_COUNTS_MAX_BYTES, and only a file of exactly the expected shape
 * counts. A tenant can misstate its own numbers this way, nothing else.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parseRequestCounts, REQUEST_COUNTS_MAX_BYTES, type RequestCounts } from '../contract/request-counts.js';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export function readRequestCounts(file: string): RequestCounts | undefined {
  let fd: number;
  try {
    fd = openSync(file, FLAGS);
  } catch {
    return undefined; // none yet (never awake since SILO_METRICS=on), or not a file we follow
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > REQUEST_COUNTS_MAX_BYTES) return undefined;
    const buf = Buffer.alloc(REQUEST_COUNTS_MAX_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > REQUEST_COUNTS_MAX_BYTES) return undefined;
    return parseRequestCounts(buf.subarray(0, n).toString('utf8'));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
