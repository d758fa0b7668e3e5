// Runs the tap suite and ends with one plain line CI can read: "N passed, N failed".
import { spawn } from 'node:child_process';

const args = ['tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['inherit', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?[^}]*\}/.exec(tail);
  const total = m ? Number(m[1]) : 0;
  const pass = m ? Number(m[2] ?? 0) : 0;
  const failed = m ? Number(m[3] ?? total - pass) : 0;
  const failedFinal = code !== 0 && failed === 0 ? Math.max(1, total - pass) : failed;
  process.stdout.write(`\n${pass} passed, ${failedFinal} failed\n`);
  process.exit(code ?? 1);
});
