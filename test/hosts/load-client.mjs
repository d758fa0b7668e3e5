// A load client that runs inside a host's network namespace (the hosts' network is not
// reachable from the test's own): one loop per tenant host, GET <path> through the proxy
// on <address>:<port> (127.0.0.1 unless a fourth argument says), each request with its own 5 s limit. On SIGTERM it prints, per
// host, what it saw as one JSON line and exits.
import { request } from 'node:http';

const [port, hostsArg, path = '/api/tenant', address = '127.0.0.1'] = process.argv.slice(2);
const hosts = hostsArg.split(',');
const seen = Object.fromEntries(hosts.map((h) => [h, { ok: 0, failed: 0, wrongTenant: 0, lastFailAt: 0, okAfterFailAt: 0, lastError: '', errors: {} }]));
let running = true;

const once = (host) =>
  new Promise((resolve) => {
    const req = request({ host: address, port: Number(port), path, headers: { host }, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(`HTTP ${res.statusCode}`);
        // Another tenant's answer would be the worst failure of all: counted apart.
        if (!body.includes(`"tenant":"${host.split('.')[0]}"`)) seen[host].wrongTenant++;
        resolve('');
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });

async function loop(host) {
  const s = seen[host];
  while (running) {
    const err = await once(host);
    const now = Date.now();
    if (err) {
      s.failed++;
      s.lastFailAt = now;
      s.okAfterFailAt = 0;
      s.lastError = err;
      s.errors[err] = (s.errors[err] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, 50));
    } else {
      s.ok++;
      if (s.lastFailAt && !s.okAfterFailAt) s.okAfterFailAt = now;
    }
  }
}

const loops = hosts.map(loop);
process.on('SIGTERM', async () => {
  running = false;
  await Promise.all(loops);
  process.stdout.write(JSON.stringify(seen) + '\n');
  process.exit(0);
});
process.stdout.write('started\n');
