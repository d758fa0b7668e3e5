// Runs the tap suite and ends with one plain line CI can read: "N passed, N failed".
// First it initialises one PostgreSQL data directory that every test file copies instead
// of running its own initdb (src/testing/pg-template.ts).
import { spawn } from 'node:child_process';
import { makePgTemplate, removePgTemplate, TEMPLATE_ENV } from '../dist/testing/pg-template.js';

const template = await makePgTemplate();
const args = ['tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, [TEMPLATE_ENV]: template } });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  removePgTemplate(template);
  // tap's last summary: "# { total: N, pass: N, fail: N, todo: N, skip: N }" (zero counts omitted)
  const summary = [...tail.matchAll(/# \{ total: [^}]*\}/g)].pop()?.[0] ?? '';
  const count = (key) => Number(new RegExp(`${key}: (\\d+)`).exec(summary)?.[1] ?? 0);
  let failed = count('fail');
  // A non-zero exit with no failed assertion (a file that crashed, a timeout) is a failure too.
  if (code !== 0 && failed === 0) failed = 1;
  const extra = ['todo', 'skip'].filter((k) => count(k) > 0).map((k) => `${count(k)} ${k}`);
  process.stdout.write(`\n${count('pass')} passed, ${failed} failed${extra.length ? ` (${extra.join(', ')})` : ''}\n`);
  process.exit(code ?? 1);
});
