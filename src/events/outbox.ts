/**
 * The outbox: one file per delivery still to make, `$SILO_HOME/events/outbox/<id>.json`,
 * written by the operation that emitted the event (emit.ts), rewritten by the `events`
 * app after each failed attempt, removed once delivered or given up. A file appears
 * whole (written aside, then renamed), so the deliverer never reads half of one.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { homePaths } from '../common/paths.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { privateFolder } from './append-log.js';

export interface Delivery {
  /** `dl_...`: this delivery (one event to one hook) */
  id: string;
  hook: string;
  /** the event's type and id (one id for every hook that receives it) */
  type: string;
  eventId: string;
  /** the exact JSON body sent, signed at each attempt */
  body: string;
  /** attempts made so far */
  attempts: number;
  /** when the next attempt is due, ms since the epoch */
  due: number;
  createdAt: string;
  lastError?: string;
}

const fileOf = (home: string, id: string) => join(homePaths(home).outbox, `${id}.json`);

export function putDelivery(home: string, d: Delivery): void {
  privateFolder(homePaths(home).events);
  privateFolder(homePaths(home).outbox);
  writeFileAtomic(fileOf(home, d.id), JSON.stringify(d), 0o600);
}

export function dropDelivery(home: string, id: string): void {
  rmSync(fileOf(home, id), { force: true });
}

/** Every delivery waiting, oldest first (a file that cannot be read is skipped until it can). */
export function pendingDeliveries(home: string): Delivery[] {
  let names: string[];
  try {
    names = readdirSync(homePaths(home).outbox).filter((n) => n.startsWith('dl_') && n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: Delivery[] = [];
  for (const n of names) {
    try {
      out.push(JSON.parse(readFileSync(join(homePaths(home).outbox, n), 'utf8')) as Delivery);
    } catch {
      // removed meanwhile
    }
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}
