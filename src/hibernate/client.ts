/** The CLI's side of `tenant sleep | wake`: ask the running waker (it owns hibernation). */
import { request } from 'node:http';
import type { SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { runPaths } from '../common/run-dir.js';

export interface WakerAnswer {
  tenant: string;
  state: 'hibernated' | 'awake';
  started?: boolean;
  ms?: number;
}

export function askWaker(cfg: SiloConfig, action: 'sleep' | 'wake', tenant: string, timeoutMs = 65_000): Promise<WakerAnswer> {
  const socketPath = runPaths(cfg.home).wakerSocket;
  const notRunning = new SiloError('the stack is not running (no waker): start it with silo up');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, headers: { host: 'waker' }, method: 'POST', path: `/_silo/${action}/${tenant}`, timeout: timeoutMs, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: { message?: string } & Partial<WakerAnswer>;
        try {
          body = JSON.parse(text);
        } catch {
          return reject(new SiloError(`the waker answered HTTP ${res.statusCode} without JSON`));
        }
        if (res.statusCode === 200) return resolve(body as WakerAnswer);
        reject(new SiloError(`${action} ${tenant}: ${body.message ?? `HTTP ${res.statusCode}`}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? notRunning : new SiloError(`the waker did not answer: ${err.message}`)));
    req.end();
  });
}
