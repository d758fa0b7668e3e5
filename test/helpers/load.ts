/**
 * Steady load for tests: `concurrency` loops sending requests one after another over
 * keep-alive connections until stopped, counting every answer. A request "fails" when
 * it errors or its status is not the expected one.
 */
import { Agent, request } from 'node:http';

export interface LoadTarget {
  port: number;
  host: string;
  path: string;
  method?: string;
  body?: () => unknown;
  /** statuses that count as success (default 200, 201) */
  ok?: number[];
  /** called with each successful response body (e.g. to check tenant data) */
  check?: (status: number, body: string) => string | undefined;
}

export interface LoadReport {
  sent: number;
  /**
   * Idempotent requests retried once because a reused keep-alive connection was closed
   * before any response (a proxy reload closes idle connections). Retrying exactly this
   * case is what RFC 9112 section 9.3.1 allows and what browsers and Node's docs
   * (`request.reusedSocket`) do; it is counted so the figure stays visible.
   */
  retried: number;
  failed: number;
  wrong: number;
  statuses: Record<string, number>;
  errors: string[];
  acknowledged: unknown[];
}

export function startLoad(target: LoadTarget, concurrency = 2): { stop(): Promise<LoadReport> } {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const report: LoadReport = { sent: 0, retried: 0, failed: 0, wrong: 0, statuses: {}, errors: [], acknowledged: [] };
  const ok = target.ok ?? [200, 201];
  let running = true;
  const once = (retry = true): Promise<void> =>
    new Promise<void>((resolve) => {
      const body = target.body ? JSON.stringify(target.body()) : undefined;
      const headers: Record<string, string> = { host: target.host };
      if (body) headers['content-type'] = 'application/json';
      // The retry goes on a fresh connection: another idle one of the agent may be closing too
      // (an nginx reload closes every idle keep-alive connection of its old workers).
      const req = request({ port: target.port, host: '127.0.0.1', path: target.path, method: target.method ?? 'GET', agent: retry ? agent : false, headers, timeout: 10_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          report.sent++;
          const s = res.statusCode ?? 0;
          report.statuses[s] = (report.statuses[s] ?? 0) + 1;
          if (!ok.includes(s)) {
            report.failed++;
            if (report.errors.length < 10) report.errors.push(`HTTP ${s}: ${text.slice(0, 120)}`);
          } else {
            const problem = target.check?.(s, text);
            if (problem) {
              report.wrong++;
              if (report.errors.length < 10) report.errors.push(problem);
            } else if (target.method === 'POST') report.acknowledged.push(JSON.parse(text));
          }
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        const method = target.method ?? 'GET';
        if (retry && req.reusedSocket && (method === 'GET' || method === 'HEAD') && /ECONNRESET|socket hang up/.test(err.message)) {
          report.retried++;
          once(false).then(resolve);
          return;
        }
        report.sent++;
        report.failed++;
        if (report.errors.length < 10) report.errors.push(err.message);
        resolve();
      });
      req.end(body);
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await once();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return report;
    },
  };
}
