/**
 * Which proxy obtains a certificate in a host's first handshake (ACME on demand) is the
 * driver's to say, with how long that handshake may take: `silo tenant domain add` waits
 * that long and obtains no certificate of its own then. In-process: drivers are only built.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROXY_KINDS } from '../../src/proxy/kinds.js';

t.test('Caddy says how long a first handshake with issuance may take; nginx never issues in one', async (t) => {
  const caddy = PROXY_KINDS.caddy.driver('/nonexistent/caddy', '/usr/bin/caddy');
  t.ok((caddy.issuingHandshakeMs ?? 0) >= 30_000, `caddy: ${caddy.issuingHandshakeMs} ms`);
  t.equal(PROXY_KINDS.nginx.driver('/nonexistent/nginx', '/usr/sbin/nginx').issuingHandshakeMs, undefined);
});

t.test('tenant operations never ask which proxy it is', async (t) => {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'tenant');
  const asking = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => /\.proxy\s*[!=]==|'(nginx|caddy)'/.test(readFileSync(join(dir, f), 'utf8')));
  t.same(asking, [], 'a proxy kind\'s habits belong to its driver (src/proxy/<kind>/driver.ts)');
});
