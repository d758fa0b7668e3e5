/**
 * The webhooks an operator added (`silo webhook add|list|remove`): `$SILO_HOME/events/
 * webhooks.json` (0600, rewritten atomically under its own lock) holds each hook's id, URL
 * and events; its signing secret is a file of its own under secrets/webhooks/ (0600), read
 * by the `events` app when it signs a delivery, printed once by `add`, never again.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homePaths } from '../common/paths.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { readSecret, removeSecret, writeSecret } from '../common/secrets.js';
import { SiloError } from '../common/errors.js';
import { withLock } from '../registry/lock.js';
import { audited, type AuditConfig } from './audit.js';
import { privateFolder } from './append-log.js';

/** Every event a hook can ask for, and what `data` each carries (README, Webhooks). */
export const EVENTS = [
  'tenant.created',
  'tenant.removed',
  'tenant.suspended',
  'tenant.resumed',
  'tenant.moved',
  'tenant.restored',
  'tenant.deployed',
  'backup.failed',
  'wake.failed',
  'certificate.failed',
] as const;

export type EventName = (typeof EVENTS)[number];

export interface Webhook {
  id: string;
  url: string;
  /** the events it receives; `['*']`: all of them, those added later included */
  events: string[];
  createdAt: string;
}

const ID = /^wh_[0-9a-f]{12}$/;

export function listWebhooks(home: string): Webhook[] {
  try {
    return (JSON.parse(readFileSync(homePaths(home).webhooks, 'utf8')) as { hooks: Webhook[] }).hooks;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export const wants = (hook: Webhook, event: string): boolean => hook.events.includes('*') || hook.events.includes(event);

export function webhookSecret(home: string, id: string): string | undefined {
  return ID.test(id) ? readSecret(homePaths(home).webhookSecret(id)) : undefined;
}

/** A URL without what could be a credential in it (a password, a query string), for output and logs. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.search) u.search = '?***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Only the host goes into the audit log: a hook's path can be its credential (Slack's are). */
const hostOf = (url: string) => {
  try {
    return new URL(url).host.slice(0, 200);
  } catch {
    return '(invalid URL)';
  }
};

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SiloError('invalid webhook URL: use http://... or https://...');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SiloError(`invalid webhook URL: ${u.protocol} is neither http: nor https:`);
  if (url.length > 2000) throw new SiloError('invalid webhook URL: longer than 2000 characters');
  return u.toString();
}

function checkEvents(events: string[] | undefined): string[] {
  if (!events || events.length === 0 || (events.length === 1 && events[0] === '*')) return ['*'];
  const unknown = events.filter((e) => !(EVENTS as readonly string[]).includes(e));
  if (unknown.length) throw new SiloError(`unknown event${unknown.length > 1 ? 's' : ''} ${unknown.map((e) => `"${e.slice(0, 40)}"`).join(', ')}: choose from ${EVENTS.join(', ')}`);
  return [...new Set(events)];
}

async function changeHooks<T>(home: string, change: (hooks: Webhook[]) => T): Promise<T> {
  const file = homePaths(home).webhooks;
  privateFolder(homePaths(home).events);
  return withLock(`${file}.lock`, async () => {
    const hooks = listWebhooks(home);
    const out = change(hooks);
    writeFileAtomic(file, JSON.stringify({ hooks }, null, 2) + '\n', 0o600);
    return out;
  });
}

/** Add a hook; returns it with its secret (the only time the secret is given out). */
export function addWebhook(cfg: AuditConfig, url: string, events?: string[]): Promise<{ hook: Webhook; secret: string }> {
  const hook: Webhook = { id: `wh_${randomBytes(6).toString('hex')}`, url: '', events: [], createdAt: new Date().toISOString() };
  return audited(
    cfg,
    'webhook.add',
    hook.id,
    async () => {
      hook.url = checkUrl(url);
      hook.events = checkEvents(events);
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      writeSecret(homePaths(cfg.home).webhookSecret(hook.id), secret);
      await changeHooks(cfg.home, (hooks) => hooks.push(hook));
      return { hook, secret };
    },
    { host: hostOf(url), events: events?.length ? events.slice(0, 20) : ['*'] },
  );
}

export function removeWebhook(cfg: AuditConfig, id: string): Promise<Webhook> {
  return audited(cfg, 'webhook.remove', id, async () => {
    const gone = await changeHooks(cfg.home, (hooks) => {
      const i = hooks.findIndex((h) => h.id === id);
      if (i < 0) throw new SiloError(`no webhook "${id.slice(0, 40)}" (silo webhook list)`);
      return hooks.splice(i, 1)[0]!;
    });
    if (ID.test(id)) removeSecret(homePaths(cfg.home).webhookSecret(id));
    return gone;
  });
}

