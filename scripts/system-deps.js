// The system programs silo needs besides npm packages, in one place: what `npm start`
// needs (the stack) and what `npm test` needs on top (every real part the suite drives).
// Run by `prestart` and `pretest`. As root on Debian it installs what is missing from apt,
// saying what and why before it does; elsewhere it stops with the one command to run.
//
//   node scripts/system-deps.js stack|test [--check]
//
// --check only reports (exit 1 when something is missing). SILO_SKIP_SYSTEM_DEPS=1 skips
// the whole check (for a machine whose programs live where this script does not look).
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** One entry per Debian package: the program that proves it is there, and why silo needs it. */
const PACKAGES = {
  stack: [
    { pkg: 'nginx-light', has: () => program('nginx'), why: 'the default proxy (SILO_PROXY=nginx)', when: () => (process.env.SILO_PROXY ?? 'nginx') === 'nginx' },
    { pkg: 'caddy', has: () => program('caddy'), why: 'the proxy you chose (SILO_PROXY=caddy)', when: () => process.env.SILO_PROXY === 'caddy' },
    // pg_dump refuses servers newer than itself: it must match the embedded server's major (15).
    { pkg: 'postgresql-client-15', has: () => executable('/usr/lib/postgresql/15/bin/pg_dump'), why: 'pg_dump 15 for backups and for the final dump of a removed tenant' },
    { pkg: 'openssl', has: () => program('openssl'), why: "HTTPS (SILO_TLS=on): silo's local CA signs the certificates of localhost", when: () => process.env.SILO_TLS === 'on' },
  ],
  test: [
    { pkg: 'nginx-light', has: () => program('nginx'), why: 'the suite runs every scenario through nginx' },
    { pkg: 'caddy', has: () => program('caddy'), why: 'the suite runs the proxy scenarios through Caddy too' },
    { pkg: 'postgresql-client-15', has: () => executable('/usr/lib/postgresql/15/bin/pg_dump'), why: 'pg_dump 15 for the backup, restore and move tests' },
    { pkg: 'chromium', has: () => program('chromium'), why: 'the browser test (driven by playwright-core, never a downloaded browser)' },
    { pkg: 'iproute2', has: () => program('ip'), why: 'network namespaces (ip netns) for the tests that change kernel settings' },
    { pkg: 'git', has: () => program('git'), why: 'the root-start test clones the project into a private folder' },
    { pkg: 'curl', has: () => program('curl'), why: 'the compose rehearsal runs docker/healthcheck.sh, which checks the tenants with curl as the image does' },
    { pkg: 'systemd', has: () => program('systemd-analyze'), why: 'the service test checks the unit silo service install writes (systemd-analyze verify)' },
    { pkg: 'openssl', has: () => program('openssl'), why: "the HTTPS tests: silo's local CA, and an operator's own certificate files" },
    { pkg: 'pebble', has: () => program('pebble') && program('pebble-challtestsrv'), why: "the ACME tests: Let's Encrypt's test CA and its DNS responder, offline on loopback" },
    { pkg: 'docker.io', has: () => program('dockerd') && program('containerd') && program('runc'), why: 'the compose test runs docker-compose.yml on a Docker engine of its own (its own dockerd, never the machine\'s)' },
    { pkg: 'docker-compose', has: () => program('docker-compose'), why: "the compose test drives the file with Debian's compose (v1, 1.29)" },
    { pkg: 'debootstrap', has: () => program('debootstrap'), why: 'scripts/offline-images makes the node and postgres:15 images from Debian when no registry can be reached' },
    { pkg: 'prometheus', has: () => program('prometheus'), why: "the metrics test: a real Prometheus scrapes silo's /metrics and is queried back" },
    { pkg: 'libnss3-tools', has: () => program('certutil'), why: "the browser test over HTTPS: Chromium trusts silo's local CA through an NSS database of the test's own" },
  ],
};

const DIRS = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function program(name) {
  return DIRS.some((dir) => executable(join(dir, name)));
}

function say(line) {
  process.stderr.write(`silo: ${line}\n`);
}

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  if (r.status !== 0) {
    say(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

/** apt-get install without starting the packages' own services (Debian's nginx would take :80). */
function aptInstall(pkgs) {
  const policy = '/usr/sbin/policy-rc.d';
  const ours = !existsSync(policy);
  if (ours) writeFileSync(policy, '#!/bin/sh\n# written by silo for one apt-get install: start no service\nexit 101\n', { mode: 0o755 });
  try {
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], env);
    // Another apt-get (a second checkout's npm test, an operator) may hold the lock: wait for it.
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...pkgs], env);
  } finally {
    if (ours) rmSync(policy, { force: true });
  }
}

function main() {
  const [tier, flag] = process.argv.slice(2);
  if (!PACKAGES[tier]) {
    say('usage: node scripts/system-deps.js stack|test [--check]');
    process.exit(2);
  }
  if (process.env.SILO_SKIP_SYSTEM_DEPS === '1') return;
  const missing = PACKAGES[tier].filter((p) => (p.when?.() ?? true) && !p.has());
  if (missing.length === 0) return;
  const names = missing.map((p) => p.pkg);
  const debian = existsSync('/etc/debian_version') && program('apt-get');
  const root = process.getuid?.() === 0;
  if (flag === '--check' || !debian || !root) {
    for (const p of missing) say(`missing ${p.pkg}: ${p.why}`);
    if (debian) say(`install them with: sudo apt-get install ${names.join(' ')}`);
    else say(`install nginx (or caddy), pg_dump 15${tier === 'test' ? ', caddy and chromium' : ''} with your system's package manager, then run this again`);
    process.exit(1);
  }
  say(`installing from apt: ${names.join(' ')}`);
  for (const p of missing) say(`  ${p.pkg}: ${p.why}`);
  aptInstall(names);
  const still = missing.filter((p) => !p.has());
  if (still.length > 0) {
    say(`still missing after apt-get: ${still.map((p) => p.pkg).join(' ')}`);
    process.exit(1);
  }
}

main();
