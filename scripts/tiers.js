// The test pyramid: which tier every test file belongs to, decided here and nowhere else.
// `npm test` runs the quick tier; `npm run test:all` (and .ci/run, on every submission)
// runs every tier, then the stack end to end on the newest Node (scripts/test.js).
// A rule is a folder (ending in `/`, every *.test.ts under it) or one file; the most
// specific rule that matches a file decides its tier (a file beats its folder, a deeper
// folder a shallower one). test/tiers.test.ts fails when a file matches no rule, or two
// rules of one specificity, or a rule matches nothing: a new folder has to be given a
// tier, and `all` runs every test file whatever the rules say, so none drops out of CI.
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const TIERS = [
  {
    name: 'quick',
    what: 'in-process tests on throwaway SILO_HOMEs (refusals, operation logic, renderers, the worker against a real PostgreSQL), and the few whole-stack files where the stack is the point: end to end through nginx, the hostile-tenant attacks, tenants isolated from each other',
    rules: [
      'test/layers.test.ts',
      'test/tiers.test.ts',
      'test/app/',
      'test/apps/release-paths.test.ts',
      'test/cli/',
      'test/common/',
      'test/migrate/',
      'test/proxy/',
      'test/registry/',
      'test/runtime/',
      'test/servers/',
      'test/security/',
      'test/worker/',
      'test/backup/backup.test.ts',
      'test/control/api.test.ts',
      'test/control/console.test.ts',
      'test/control/console-control.test.ts',
      'test/control/jobs.test.ts',
      'test/control/tokens.test.ts',
      'test/events/audit.test.ts',
      'test/events/deliver.test.ts',
      'test/metrics/exposition.test.ts',
      'test/metrics/routes.test.ts',
      'test/stack/parts.test.ts',
      'test/stack/service.test.ts',
      'test/tenant/create.test.ts',
      'test/tenant/migrate.test.ts',
      'test/tenant/steps.test.ts',
      // (test/tenant/remove.test.ts is in the stack tier: remove killed before each of its
      // steps and run again, crash injection like test/resilience/crash-*; 45 to 110 s.)
      'test/e2e/nginx.test.ts',
      'test/isolation/tenant-users.test.ts',
      'test/resilience/cross-tenant.test.ts',
    ],
  },
  {
    name: 'stack',
    what: 'whole-stack scenarios: crash injection and resilience under load, every operation against a running stack, Caddy, TLS and ACME, browsers, hibernation, the control API, monitoring, limits and ceilings',
    rules: [
      'test/apps/',
      'test/backup/',
      'test/control/',
      'test/e2e/',
      'test/events/',
      'test/hibernate/',
      'test/isolation/',
      'test/metrics/',
      'test/resilience/',
      'test/stack/',
      'test/tenant/',
      // CPU-heavy for a minute (tens of thousands of queries), or floods: they would slow
      // whatever runs beside them.
      'test/worker/pool-aging.test.ts',
      'test/security/ceilings.test.ts',
    ],
  },
  {
    name: 'machines',
    what: 'what takes machines of its own: Docker Compose on its own dockerd, three network namespaces as a swarm, `npm install && npm start` as root from a clone',
    rules: ['test/compose.test.ts', 'test/compose/', 'test/hosts/', 'test/isolation/root-start.test.ts'],
  },
];

/**
 * Every *.test.ts under `test/`, as `test/...` paths with forward slashes, sorted.
 * @param {string} root
 * @returns {string[]}
 */
export function testFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.test.ts')) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(join(root, 'test'));
  return out.sort();
}

/**
 * How specific a rule is for a file: -1 if it does not match, else its length.
 * @param {string} rule
 * @param {string} file
 * @returns {number}
 */
function specificity(rule, file) {
  if (rule.endsWith('/')) return file.startsWith(rule) ? rule.length : -1;
  return rule === file ? Number.MAX_SAFE_INTEGER : -1;
}

/**
 * The tier of one file, or a sentence saying why it has none (no rule, or two at once).
 * @param {string} file
 * @returns {{ tier: string, problem?: undefined } | { tier?: undefined, problem: string }}
 */
export function tierOf(file) {
  let best = -1;
  let winners = [];
  for (const tier of TIERS) {
    for (const rule of tier.rules) {
      const s = specificity(rule, file);
      if (s > best) [best, winners] = [s, [{ tier: tier.name, rule }]];
      else if (s === best && s >= 0) winners.push({ tier: tier.name, rule });
    }
  }
  if (winners.length === 1) return { tier: winners[0].tier };
  if (winners.length === 0) return { problem: `${file} is in no tier: add it (or its folder) to one tier in scripts/tiers.js` };
  return { problem: `${file} is in two tiers at once (${winners.map((w) => `${w.tier}: ${w.rule}`).join(', ')}): keep one in scripts/tiers.js` };
}

/**
 * What is wrong with the tiers for these files (none when every file has exactly one tier and every rule is used).
 * @param {string[]} files
 * @returns {string[]}
 */
export function tierProblems(files) {
  const problems = files.map(tierOf).flatMap((r) => (r.problem ? [r.problem] : []));
  for (const tier of TIERS) {
    for (const rule of tier.rules) {
      if (!files.some((f) => specificity(rule, f) >= 0)) problems.push(`${tier.name}'s rule ${rule} matches no test file: remove it from scripts/tiers.js`);
    }
  }
  return problems;
}

/**
 * The files of the named tiers, sorted. `all` is every test file under test/, whatever
 * the rules say, so a mistake here can never take a file out of CI (test/tiers.test.ts,
 * itself in the quick tier, names the mistake).
 * @param {string} root
 * @param {string[]} names
 * @returns {string[]}
 */
export function filesOf(root, names) {
  const files = testFiles(root);
  if (names.includes('all')) return files;
  return files.filter((f) => names.includes(tierOf(f).tier));
}
