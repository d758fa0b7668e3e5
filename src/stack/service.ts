/**
 * `silo service install | uninstall`: a systemd unit that runs the stack in the foreground
 * (`silo run`) and restarts it when it fails, so the stack comes back after a reboot or a
 * crash of `silo run` itself (a crash of PM2's daemon under it is `silo run`'s own job:
 * stack/run.ts).
 *
 * The unit names the node binary, the checkout's bin/silo.js, the working folder, the
 * user, SILO_HOME and PM2_HOME by absolute path. It carries no secret: the stack's
 * settings are recorded in the registry (registry/settings.ts), so the unit needs only
 * SILO_HOME; the other SILO_* variables set where `install` runs that the registry does not
 * record go in as they are, except an admin URL (SILO_DATABASE_URL), which goes to a 0600
 * file under $SILO_HOME/secrets named by `EnvironmentFile=`.
 *
 * KillMode=mixed: on `systemctl stop`, SIGTERM reaches `silo run` alone, which stops the
 * stack in order (proxy, workers, databases, the daemon: what `silo down` does); whatever
 * is left after TimeoutStopSec is killed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { userInfo } from 'node:os';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { homePaths } from '../common/paths.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { isRoot } from '../common/reach.js';
import { readRegistry } from '../registry/registry.js';
import { recordedVariables } from '../registry/settings.js';
import { lookupUser, type OsUser } from '../isolation/os-users.js';

export const SYSTEM_UNIT_DIR = '/etc/systemd/system';
/** Variables whose values are secrets: never written into the unit. */
const SECRET_VARIABLES = ['SILO_DATABASE_URL', 'SILO_SERVER_URL'];
/** Variables the unit sets itself. */
const OWN_VARIABLES = ['SILO_HOME'];
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ServiceOptions {
  /** the Unix user the stack runs as (default: the user running install) */
  user?: string;
  /** the unit's name, without .service (default `silo`) */
  name?: string;
  /** where the unit goes (default /etc/systemd/system) */
  unitDir?: string;
  /** the environment install runs in (its SILO_* variables) */
  env?: NodeJS.ProcessEnv;
  /** the working folder of `silo run` (default: the current one) */
  cwd?: string;
}

export interface ServicePlan {
  name: string;
  file: string;
  user: OsUser;
  /** the 0600 file with the secret variables, when there are any */
  secretsFile?: string;
  secrets: Record<string, string>;
  text: string;
}

const unitName = (opts: ServiceOptions) => {
  const name = opts.name ?? 'silo';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,100}$/.test(name)) throw new SiloError(`invalid service name "${name}": letters, digits, _ . @ - only`);
  return name;
};

/** systemd's quoting for one Environment= assignment. */
const spec = (s: string) => s.replace(/%/g, '%%');
const quoted = (s: string) => `"${spec(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
/** An EnvironmentFile line (no specifier or $ expansion there; quotes and backslashes). */
const envFileLine = (k: string, v: string) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function serviceUser(opts: ServiceOptions): OsUser {
  const name = opts.user ?? userInfo().username;
  const user = lookupUser(name);
  if (!user) throw new SiloError(`no Unix user named "${name}"`);
  return user;
}

/** Can `user` read `file`? (Asked as that user, through setpriv, when that is another user.) */
function readableBy(user: OsUser, file: string): boolean {
  if (user.uid === process.getuid?.()) return true;
  try {
    execFileSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', 'test', '-r', file], {
      stdio: 'ignore',
      env: { PATH: SERVICE_PATH },
    });
    return true;
  } catch {
    return false;
  }
}

/** What `install` would write, checked: refused in one line when it could not run. */
export function planService(cfg: SiloConfig, opts: ServiceOptions = {}): ServicePlan {
  const env = opts.env ?? process.env;
  const name = unitName(opts);
  const user = serviceUser(opts);
  if (user.uid !== process.getuid?.() && !isRoot()) throw new SiloError(`only root can install a service that runs as another user (${user.name})`);
  const paths = homePaths(cfg.home);
  const reg = readRegistry(paths.registry);
  if (!reg.settings) {
    throw new SiloError(`${cfg.home} has no recorded settings yet: run silo up (or silo run) once with this SILO_HOME, then silo service install`);
  }
  const owner = statSync(cfg.home).uid;
  if (owner !== user.uid) {
    throw new SiloError(`SILO_HOME ${cfg.home} belongs to uid ${owner}, not to ${user.name} (uid ${user.uid}): run the stack as its owner, or chown -R it`);
  }
  const bin = join(projectRoot, 'bin', 'silo.js');
  const cwd = opts.cwd ?? process.cwd();
  for (const file of [bin, paths.registry]) {
    if (!readableBy(user, file)) throw new SiloError(`user ${user.name} cannot read ${file}: the service could not start`);
  }
  // PM2's own default (~/.pm2) of the user the stack runs as, unless PM2_HOME is set.
  const pm2Home = env.PM2_HOME || (user.home && user.home !== '/nonexistent' && existsSync(user.home) ? join(user.home, '.pm2') : paths.pm2Home);

  const recorded = new Set(recordedVariables());
  const passed = Object.keys(env)
    .filter((k) => k.startsWith('SILO_') && !recorded.has(k) && !SECRET_VARIABLES.includes(k) && !OWN_VARIABLES.includes(k))
    .sort();
  const secrets: Record<string, string> = {};
  for (const k of SECRET_VARIABLES) if (env[k]) secrets[k] = env[k]!;
  const secretsFile = Object.keys(secrets).length ? join(paths.secrets, `service-${name}.env`) : undefined;

  const lines = [
    '# Written by `silo service install`; `silo service uninstall` removes it.',
    `# The stack of ${cfg.home}, in the foreground (silo run); its settings are recorded in its registry.`,
    '[Unit]',
    `Description=silo: tenants of ${cfg.home}`,
    'After=network-online.target',
    'Wants=network-online.target',
    // Restart for as long as it fails (a port taken, a disk full...), every RestartSec.
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=exec',
    `User=${user.name}`,
    `WorkingDirectory=${spec(cwd)}`,
    `Environment=${quoted(`SILO_HOME=${cfg.home}`)}`,
    `Environment=${quoted(`PM2_HOME=${pm2Home}`)}`,
    // node itself first: PM2 runs apps with this node, the launcher and scripts find it here.
    `Environment=${quoted(`PATH=${SERVICE_PATH.split(':').includes(dirname(process.execPath)) ? '' : `${dirname(process.execPath)}:`}${SERVICE_PATH}`)}`,
    ...passed.map((k) => `Environment=${quoted(`${k}=${env[k]}`)}`),
    ...(secretsFile ? [`EnvironmentFile=${secretsFile}`] : []),
    `ExecStart=${quoted(process.execPath)} ${quoted(bin)} run`,
    'Restart=on-failure',
    'RestartSec=5',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=120',
    // Workers, databases and logs need far more than the default 1024.
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return { name, file: join(opts.unitDir ?? SYSTEM_UNIT_DIR, `${name}.service`), user, secretsFile, secrets, text: lines.join('\n') };
}

/** systemd runs as this machine's init (not the case in most containers). */
export const systemdRuns = () => existsSync('/run/systemd/system');

function systemctl(args: string[]): void {
  try {
    execFileSync('systemctl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n').pop();
    throw new SiloError(`systemctl ${args.join(' ')} failed: ${why || (err as Error).message}`);
  }
}

export interface InstallResult {
  file: string;
  name: string;
  /** enabled and started through systemctl (systemd runs, the unit is in its folder) */
  started: boolean;
}

export function installService(cfg: SiloConfig, opts: ServiceOptions = {}): InstallResult {
  const plan = planService(cfg, opts);
  const other = existsSync(plan.file) ? /^Environment="SILO_HOME=(.*)"$/m.exec(readFileSync(plan.file, 'utf8'))?.[1] : undefined;
  if (other !== undefined && other.replace(/%%/g, '%') !== cfg.home) {
    throw new SiloError(`${plan.file} runs another stack (SILO_HOME=${other}): choose another name with --name`);
  }
  if (plan.secretsFile) {
    mkdirSync(dirname(plan.secretsFile), { recursive: true, mode: 0o700 });
    const text = Object.entries(plan.secrets).map(([k, v]) => envFileLine(k, v)).join('\n') + '\n';
    writeFileAtomic(plan.secretsFile, text, 0o600);
  }
  try {
    mkdirSync(dirname(plan.file), { recursive: true });
    writeFileAtomic(plan.file, plan.text, 0o644);
  } catch (err) {
    throw new SiloError(`cannot write ${plan.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const started = systemdRuns() && dirname(plan.file) === SYSTEM_UNIT_DIR;
  if (started) {
    systemctl(['daemon-reload']);
    systemctl(['enable', '--now', `${plan.name}.service`]);
  }
  return { file: plan.file, name: plan.name, started };
}

export function uninstallService(cfg: SiloConfig, opts: ServiceOptions = {}): { file: string; removed: boolean; stopped: boolean } {
  const name = unitName(opts);
  const file = join(opts.unitDir ?? SYSTEM_UNIT_DIR, `${name}.service`);
  if (!existsSync(file)) return { file, removed: false, stopped: false };
  const stopped = systemdRuns() && dirname(file) === SYSTEM_UNIT_DIR;
  // Stopping it stops the stack (silo run does what silo down does).
  if (stopped) systemctl(['disable', '--now', `${name}.service`]);
  rmSync(file, { force: true });
  rmSync(join(homePaths(cfg.home).secrets, `service-${name}.env`), { force: true });
  if (stopped) systemctl(['daemon-reload']);
  return { file, removed: true, stopped };
}
