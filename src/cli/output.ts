/**
 * The only place the CLI prints and exits. Commands return data; this turns it into
 * lines (or JSON) and turns any error into one line on stderr with a non-zero exit.
 */
import { SiloError } from '../common/errors.js';

// `silo status | head -1`: a closed pipe is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printLine(line = ''): void {
  process.stdout.write(line + '\n');
}

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '-').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  printLine(fmt(columns.map((c) => c.toUpperCase())));
  for (const r of rows) printLine(fmt(columns.map((c) => String(r[c] ?? '-'))));
}

/** A line for the person at the terminal that is not the command's output (stderr). */
export function notice(line: string): void {
  process.stderr.write(`silo: ${line}\n`);
}

/** A progress line that rewrites itself on a terminal and stays silent otherwise. */
export function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
}

export function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

export function fail(err: unknown): never {
  endProgress();
  const message = err instanceof Error ? err.message : String(err);
  // One line: the first line of the message, never a stack (SILO_DEBUG=1 shows it).
  process.stderr.write(`silo: ${message.split('\n')[0]}\n`);
  if (process.env.SILO_DEBUG && err instanceof Error && !(err instanceof SiloError)) process.stderr.write(`${err.stack}\n`);
  process.exit(err instanceof SiloError ? err.exitCode : 1);
}

/** What a loop over tenants reports per tenant (tenant/fleet.ts). */
interface Outcome {
  tenant: string;
  ok: boolean;
  error?: string;
}

/** The progress of a loop over tenants, on a terminal: "migrating [3/10] acme ok". */
export function tenantProgress(verb: string): (r: Outcome, done: number, total: number) => void {
  return (r, done, total) => progress(`${verb} [${done}/${total}] ${r.tenant} ${r.ok ? 'ok' : 'FAILED'}`);
}

export interface SummaryFormat<R extends Outcome> {
  /** with --json: what to print instead of the lines */
  json?: () => unknown;
  /** a first line (what the loop did once, before any tenant) */
  header?: string;
  /** the line(s) of a tenant that went well */
  ok(r: R): string | string[];
  /** the line(s) of one that failed (default: "<tenant>: FAILED: <reason>") */
  failed?(r: R): string | string[];
  /** the totals line */
  total?(ok: number, all: number, failed: number): string;
  /** the one-line error naming the tenants that failed (exit non-zero) */
  failure(names: string): string;
}

/**
 * The one summary of a loop over tenants: per tenant ok or FAILED with its reason, the
 * totals, and a non-zero exit naming every tenant that failed.
 */
export function printSummary<R extends Outcome>(results: R[], f: SummaryFormat<R>): void {
  endProgress();
  const failed = results.filter((r) => !r.ok);
  if (f.json) printJson(f.json());
  else {
    if (f.header !== undefined) printLine(f.header);
    for (const r of results) {
      const lines = r.ok ? f.ok(r) : f.failed ? f.failed(r) : `${r.tenant}: FAILED: ${r.error}`;
      for (const line of Array.isArray(lines) ? lines : [lines]) printLine(line);
    }
    if (f.total) printLine(f.total(results.length - failed.length, results.length, failed.length));
  }
  if (failed.length) throw new SiloError(f.failure(failed.map((r) => r.tenant).join(', ')));
}
