/**
 * The fleet page's filter, sort and page, read from the query string (so every view is a
 * link, and works without JavaScript). Pure: rows in, one page of rows out.
 */
import type { FleetRow } from './fleet.js';

export const SORTS = ['name', 'state', 'release', 'server', 'memory', 'rpm', 'backup'] as const;
export type SortKey = (typeof SORTS)[number];
export const PER_PAGE = [25, 50, 100, 200] as const;

export interface FleetQuery {
  /** part of a name or domain */
  q: string;
  state: string;
  server: string;
  sort: SortKey;
  dir: 'asc' | 'desc';
  page: number;
  per: number;
}

const one = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '');

export function parseFleetQuery(raw: Record<string, unknown>): FleetQuery {
  const sort = one(raw.sort) as SortKey;
  const per = Number(one(raw.per));
  const page = Math.floor(Number(one(raw.page)));
  return {
    q: one(raw.q).trim().toLowerCase().slice(0, 100),
    state: one(raw.state).slice(0, 20),
    server: one(raw.server).slice(0, 64),
    sort: SORTS.includes(sort) ? sort : 'name',
    dir: one(raw.dir) === 'desc' ? 'desc' : 'asc',
    page: Number.isFinite(page) && page >= 1 ? page : 1,
    per: (PER_PAGE as readonly number[]).includes(per) ? per : 50,
  };
}

/** Missing values sort last whichever the direction. */
function key(row: FleetRow, sort: SortKey): string | number | undefined {
  switch (sort) {
    case 'name':
      return row.name;
    case 'state':
      return row.state;
    case 'release':
      return row.release;
    case 'server':
      return row.server;
    case 'memory':
      return row.memoryMB;
    case 'rpm':
      return row.rpm;
    case 'backup':
      return row.lastBackup?.at;
  }
}

export interface FleetPage {
  rows: FleetRow[];
  /** rows that pass the filter */
  matched: number;
  total: number;
  page: number;
  pages: number;
}

export function fleetPage(all: FleetRow[], q: FleetQuery): FleetPage {
  const matched = all.filter(
    (r) =>
      (!q.q || r.name.includes(q.q) || r.domains.some((d) => d.includes(q.q))) &&
      (!q.state || r.state === q.state) &&
      (!q.server || r.server === q.server),
  );
  const sign = q.dir === 'desc' ? -1 : 1;
  matched.sort((a, b) => {
    const x = key(a, q.sort);
    const y = key(b, q.sort);
    if (x === y) return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
  const pages = Math.max(1, Math.ceil(matched.length / q.per));
  const page = Math.min(q.page, pages);
  return { rows: matched.slice((page - 1) * q.per, page * q.per), matched: matched.length, total: all.length, page, pages };
}
