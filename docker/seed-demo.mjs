// Demo polls for the tenants docker/entrypoint.sh created, through the public HTTP API
// and the proxy, while `silo up` has the stack running. Each tenant gets a poll naming
// the PostgreSQL server that holds it, once: a marker under $SILO_HOME remembers it, so
// a tenant whose polls were all deleted is not seeded again on the next start.
//
// Needed because `silo tenant create` makes an empty tenant and only `silo up` on an
// empty registry seeds demo data (for tenants it places itself, not one per server).
import { request } from 'node:http';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const home = env.SILO_HOME;
const domain = env.SILO_DOMAIN || 'localhost';
const port = Number(env.SILO_HTTP_PORT || 8080);
const listen = env.SILO_HTTP_HOST || '127.0.0.1';
const connectTo = listen === '0.0.0.0' ? '127.0.0.1' : listen === '::' ? '::1' : listen;
const pairs = (env.TENANTS || '').split(/\s+/).filter(Boolean).map((p) => p.split('='));

function call(host, method, path, body) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const headers = { host };
  if (data) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: connectTo, port, method, path, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${host} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

if (!home) throw new Error('SILO_HOME is not set');
const markers = join(home, 'compose', 'seeded');
mkdirSync(markers, { recursive: true });

for (const [tenant, server] of pairs) {
  const marker = join(markers, tenant);
  if (existsSync(marker)) continue;
  const host = `${tenant}.${domain}`;
  const list = await call(host, 'GET', '/api/polls');
  if (list.status !== 200) throw new Error(`GET /api/polls on ${host}: HTTP ${list.status} ${list.text.slice(0, 200)}`);
  if (JSON.parse(list.text).length === 0) {
    const created = await call(host, 'POST', '/api/polls', {
      question: `Welcome to ${tenant}: this poll lives in its own database on ${server}. Can another tenant see it?`,
      choices: ['No, never', 'I will check'],
    });
    if (created.status !== 201) throw new Error(`POST /api/polls on ${host}: HTTP ${created.status} ${created.text.slice(0, 200)}`);
    process.stdout.write(`seeded a demo poll for ${tenant}\n`);
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
}
