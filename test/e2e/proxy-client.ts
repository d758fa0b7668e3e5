/** The polls HTTP suite's client, over real HTTP through the proxy with a tenant's Host. */
import type { HttpClient } from '../app/http-suite.js';
import { httpRequest } from '../helpers/stack.js';

export function proxyClient(port: number, host: string): HttpClient {
  return async (req) => {
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    let body: string | Buffer | undefined;
    if (req.payload !== undefined) {
      if (typeof req.payload === 'string' || Buffer.isBuffer(req.payload)) body = req.payload as string;
      else {
        body = JSON.stringify(req.payload);
        headers['content-type'] ??= 'application/json';
      }
    }
    const hostHeader = headers.host ?? host;
    delete headers.host;
    const res = await httpRequest(port, hostHeader, req.url, { method: req.method, body, headers });
    return { statusCode: res.status, headers: res.headers, body: res.text };
  };
}
