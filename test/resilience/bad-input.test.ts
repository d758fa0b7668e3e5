/**
 * Scenario 6, a catalogue of bad input, each sent through the proxy AND straight to a
 * worker: malformed and deeply nested JSON, wrong content types, oversized bodies, NUL
 * and invalid UTF-8, bad ids, SQL metacharacters, path traversal, huge headers and URLs,
 * request smuggling shapes, and slow clients trickling one byte a second. Each gets a
 * clear 4xx (or 408) in the JSON error shape, never a 5xx; no process restarts; no row
 * changes in any database.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { printFigures, raw, restarts, rowCounts, serverUrl, type RawAnswer } from '../helpers/resilience.js';

t.setTimeout(170_000);

interface Case {
  name: string;
  /** raw request bytes for a Host */
  request: (host: string) => string | Buffer;
  /** acceptable statuses (default: any 4xx) */
  want?: number[];
  /** acceptable through the proxy, when it differs (documented per case) */
  wantProxy?: number[];
  /** the HTML form routes answer errors with a page, not JSON */
  html?: boolean;
  /**
   * Straight to the worker, a close before the answer is no fault of the worker: it
   * answers as soon as it has the headers and closes, while this client is still writing
   * a body larger than any the proxy passes on; over a Unix socket (small buffers) the
   * client's next write fails before it reads the answer. Through the proxy the answer is
   * required.
   */
  workerMayClose?: boolean;
}

function http(method: string, path: string, host: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  const h = { ...headers };
  if (b !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding')) h['Content-Length'] = String(b.length);
  for (const [k, v] of Object.entries(h)) lines.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b ?? Buffer.alloc(0)]);
}
const json = (path: string, body: string | Buffer, extra: Record<string, string> = {}) => (host: string) =>
  http('POST', path, host, { 'Content-Type': 'application/json', ...extra }, body);
const get = (path: string, headers: Record<string, string> = {}) => (host: string) => http('GET', path, host, headers);

const nestedArrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
const nestedObjects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const utf8 = (parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

// Poll 1 and its choices exist in each demo tenant; 999999999999999 does not.
const catalogue: Case[] = [
  // Malformed and nested JSON
  { name: 'truncated JSON', request: json('/api/polls', '{"question":"q","choices":["a",') },
  { name: 'trailing garbage after JSON', request: json('/api/polls', '{"question":"q","choices":["a","b"]}xyz') },
  { name: 'JSON with comments', request: json('/api/polls', '{"question":"q", /* c */ "choices":["a","b"]}') },
  { name: 'single quotes', request: json('/api/polls', "{'question':'q','choices':['a','b']}") },
  { name: '10,000 nested arrays', request: json('/api/polls', nestedArrays(10_000)) },
  { name: '5,000 nested objects', request: json('/api/polls', nestedObjects(5_000)) },
  { name: '10,000 nested arrays inside a field', request: json('/api/polls', `{"question":"q","choices":${nestedArrays(10_000)}}`) },
  { name: 'nested arrays as a vote', request: json('/api/polls/1/votes', `{"choiceId":${nestedArrays(5_000)},"voter":"x"}`) },
  { name: '__proto__ in the body', request: json('/api/polls', '{"__proto__":{"admin":true},"question":"q","choices":["a","b"]}') },
  { name: 'constructor.prototype in the body', request: json('/api/polls', '{"constructor":{"prototype":{"admin":true}},"question":"q","choices":["a","b"]}') },
  { name: 'a JSON string, not an object', request: json('/api/polls', '"just a string"') },
  { name: 'JSON null', request: json('/api/polls', 'null') },
  { name: 'empty JSON body', request: json('/api/polls', '') },
  { name: 'one choice only', request: json('/api/polls', '{"question":"q","choices":["a"]}') },
  { name: '11 choices', request: json('/api/polls', JSON.stringify({ question: 'q', choices: Array.from({ length: 11 }, (_, i) => `c${i}`) })) },
  { name: 'extra property', request: json('/api/polls', '{"question":"q","choices":["a","b"],"admin":true}') },
  { name: 'question of 201 characters', request: json('/api/polls', JSON.stringify({ question: 'q'.repeat(201), choices: ['a', 'b'] })) },
  { name: 'duplicate keys, second invalid', request: json('/api/polls', '{"question":"q","choices":["a","b"],"choices":"x"}') },
  // Content types
  { name: 'text/plain', request: (h) => http('POST', '/api/polls', h, { 'Content-Type': 'text/plain' }, '{"question":"q","choices":["a","b"]}'), want: [415] },
  { name: 'application/xml', request: (h) => http('POST', '/api/polls', h, { 'Content-Type': 'application/xml' }, '<poll/>'), want: [415] },
  { name: 'multipart/form-data', request: (h) => http('POST', '/api/polls', h, { 'Content-Type': 'multipart/form-data; boundary=x' }, '--x\r\nContent-Disposition: form-data; name="q"\r\n\r\nq\r\n--x--\r\n'), want: [415] },
  { name: 'form-urlencoded to the JSON API', request: (h) => http('POST', '/api/polls', h, { 'Content-Type': 'application/x-www-form-urlencoded' }, 'question=q&choices=a'), want: [415] },
  { name: 'no Content-Type with a body', request: (h) => http('POST', '/api/polls', h, {}, '{"question":"q","choices":["a","b"]}') },
  { name: 'JSON declared UTF-16', request: json('/api/polls', Buffer.from('{"question":"q","choices":["a","b"]}', 'utf16le'), { 'Content-Type': 'application/json; charset=utf-16' }) },
  // Oversized
  { name: '100 KiB body', request: json('/api/polls', JSON.stringify({ question: 'q', choices: ['a'.repeat(100 * 1024), 'b'] })), want: [413] },
  { name: '2 MiB body', request: json('/api/polls', Buffer.alloc(2 * 1024 * 1024, 'a')), want: [413], workerMayClose: true },
  { name: 'Content-Length of 10^12, no body', request: (h) => Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n`), want: [413] },
  { name: '200 KiB chunked', request: (h) => Buffer.concat([Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`), ...Array.from({ length: 50 }, () => Buffer.from(`1000\r\n${'a'.repeat(0x1000)}\r\n`)), Buffer.from('0\r\n\r\n')]), want: [413] },
  // NUL, invalid UTF-8, surrogates
  { name: 'escaped NUL in a string', request: json('/api/polls', '{"question":"a\\u0000b","choices":["a","b"]}'), want: [400] },
  { name: 'raw NUL byte in a string', request: json('/api/polls', utf8(['{"question":"a', [0], 'b","choices":["a","b"]}'])), want: [400] },
  { name: 'invalid UTF-8 bytes', request: json('/api/polls', utf8(['{"question":"a', [0xff, 0xfe], 'b","choices":["a","b"]}'])), want: [400] },
  { name: 'overlong UTF-8 slash', request: json('/api/polls', utf8(['{"question":"a', [0xc0, 0xaf], 'b","choices":["a","b"]}'])), want: [400] },
  { name: 'lone surrogate', request: json('/api/polls', '{"question":"a\\ud800b","choices":["a","b"]}'), want: [400] },
  { name: 'NUL in a voter', request: json('/api/polls/1/votes', '{"choiceId":1,"voter":"x\\u0000"}'), want: [400] },
  { name: 'NUL in the URL', request: get('/api/polls/1%00'), want: [400, 404] },
  // Ids
  ...['-1', '0', '99999999999999999999', '1e3', 'abc', '1.5', '0x10', '%20', '1%20', '+1', '01', '１'].map((id) => ({ name: `GET poll id ${id}`, request: get(`/api/polls/${id}`), want: [400, 404] })),
  { name: 'GET poll id 999999999999999 (valid, absent)', request: get('/api/polls/999999999999999'), want: [404] },
  { name: 'DELETE poll id -1', request: (h: string) => http('DELETE', '/api/polls/-1', h), want: [400] },
  { name: 'DELETE poll id 99999999999999999999', request: (h: string) => http('DELETE', '/api/polls/99999999999999999999', h), want: [400] },
  { name: 'DELETE an absent poll', request: (h: string) => http('DELETE', '/api/polls/999999999999999', h), want: [404] },
  ...['-1', '0', '1e20', '"1"', '1.5', 'null', 'true', '[]', '{}', '99999999999999999999'].map((c) => ({ name: `vote with choiceId ${c}`, request: json('/api/polls/1/votes', `{"choiceId":${c},"voter":"x"}`), want: [400] })),
  { name: 'vote with an empty voter', request: json('/api/polls/1/votes', '{"choiceId":1,"voter":""}'), want: [400] },
  { name: 'vote with a 10,000-character voter', request: json('/api/polls/1/votes', JSON.stringify({ choiceId: 1, voter: 'v'.repeat(10_000) })), want: [400] },
  { name: 'vote for a choice of another poll', request: json('/api/polls/2/votes', '{"choiceId":1,"voter":"x"}'), want: [400, 404] },
  { name: 'vote on an absent poll', request: json('/api/polls/999999999999999/votes', '{"choiceId":1,"voter":"x"}'), want: [404] },
  // SQL metacharacters where they must be refused
  { name: "SQL in the id: 1;drop table polls", request: get('/api/polls/1;drop%20table%20polls'), want: [400, 404] },
  { name: "SQL in the id: 1' or '1'='1", request: get("/api/polls/1'%20or%20'1'='1"), want: [400, 404] },
  { name: 'SQL in a DELETE id', request: (h: string) => http('DELETE', '/api/polls/1%20or%201=1', h), want: [400] },
  { name: 'SQL as choiceId', request: json('/api/polls/1/votes', '{"choiceId":"1 or 1=1","voter":"x"}'), want: [400] },
  { name: 'SQL in the voter of an absent poll', request: json('/api/polls/999999999999999/votes', `{"choiceId":1,"voter":"x'); delete from votes; --"}`), want: [404] },
  { name: 'SQL in a question with one choice', request: json('/api/polls', `{"question":"q'; drop table polls; --","choices":["a"]}`), want: [400] },
  { name: 'SQL in a property name', request: json('/api/polls', `{"question":"q","choices":["a","b"],"x'; drop table polls; --":1}`), want: [400] },
  { name: 'SQL in the form vote id', request: (h: string) => http('POST', '/polls/1%3Bdelete%20from%20votes/vote', h, { 'Content-Type': 'application/x-www-form-urlencoded' }, 'choiceId=1&voter=x'), want: [400, 404], html: true },
  { name: 'SQL in the form voter, absent poll', request: (h: string) => http('POST', '/polls/999999999999999/vote', h, { 'Content-Type': 'application/x-www-form-urlencoded' }, `choiceId=1&voter=${encodeURIComponent("x'); delete from votes; --")}`), want: [404], html: true },
  { name: 'form poll with one choice', request: (h: string) => http('POST', '/polls', h, { 'Content-Type': 'application/x-www-form-urlencoded' }, 'question=q&choices=only'), want: [400], html: true },
  // Path traversal
  { name: '/../../etc/passwd', request: get('/../../etc/passwd'), want: [400, 404] },
  { name: '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', request: get('/%2e%2e%2f%2e%2e%2fetc%2fpasswd'), want: [400, 404] },
  { name: '/api/polls/..%2f..%2f..%2fetc%2fpasswd', request: get('/api/polls/..%2f..%2f..%2fetc%2fpasswd'), want: [400, 404] },
  { name: '/api/../../../etc/passwd', request: get('/api/../../../etc/passwd'), want: [400, 404] },
  { name: 'double-encoded traversal', request: get('/%252e%252e%252fetc%252fpasswd'), want: [400, 404] },
  { name: 'backslash traversal', request: get('/..\\..\\etc\\passwd'), want: [400, 404] },
  { name: '/..;/etc/passwd', request: get('/..;/etc/passwd'), want: [400, 404] },
  { name: '/node_modules/../package.json', request: get('/node_modules/../package.json'), want: [400, 404] },
  // Huge headers and URLs
  { name: 'one 20 KB header', request: get('/api/polls', { 'X-Big': 'a'.repeat(20_000) }), want: [400, 431] },
  { name: '300 headers of 100 bytes', request: get('/api/polls', Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`X-H${i}`, 'b'.repeat(100)]))), want: [400, 431] },
  { name: 'a 20 KB cookie', request: get('/api/polls', { Cookie: `c=${'c'.repeat(20_000)}` }), want: [400, 431] },
  { name: 'a 10 KB URL', request: get(`/api/polls/${'1'.repeat(10_000)}`), want: [400, 414, 431] },
  { name: 'a 100 KB URL', request: get(`/api/polls?q=${'q'.repeat(100_000)}`), want: [400, 414, 431] },
  // Framing and smuggling shapes
  { name: 'Content-Length and Transfer-Encoding', request: (h) => Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`), want: [400] },
  { name: 'two different Content-Lengths', request: (h) => Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}`), want: [400] },
  { name: 'a non-numeric Content-Length', request: (h) => Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`), want: [400] },
  { name: 'a negative Content-Length', request: (h) => Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`), want: [400] },
  { name: 'bad chunk size', request: (h) => Buffer.from(`POST /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`), want: [400] },
  { name: 'a space before the header colon', request: (h) => Buffer.from(`GET /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nX-Bad : 1\r\n\r\n`), want: [400] },
  // nginx MAY take a bare LF as a line end (RFC 9112 2.2) and drops the invalid line; it
  // forwards clean headers, so the worker and nginx never disagree on the framing.
  { name: 'a bare LF in a header value', request: (h) => Buffer.from(`GET /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nX-Bad: a\nb\r\n\r\n`), want: [400], wantProxy: [200, 400] },
  { name: 'a control character in a header value', request: (h) => Buffer.from(`GET /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\nX-Bad: a\x01b\r\n\r\n`), want: [400] },
  { name: 'garbage request line', request: () => Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n'), want: [400] },
  { name: 'lower-case method', request: (h) => Buffer.from(`get /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`), want: [400, 404, 405] },
  { name: 'unknown method', request: (h) => Buffer.from(`FOO /api/polls HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`), want: [400, 404, 405] },
];

interface Result {
  where: 'proxy' | 'worker';
  name: string;
  answer: RawAnswer;
  problem?: string;
}

function judge(c: Case, where: Result['where'], a: RawAnswer): Result {
  const r: Result = { where, name: c.name, answer: a };
  const want = where === 'proxy' && c.wantProxy ? c.wantProxy : c.want;
  if (a.status === 200 && want?.includes(200)) return r;
  if (a.status === 0 && where === 'worker' && c.workerMayClose && a.closedByServer) return r;
  if (a.status === 0) r.problem = a.timedOut ? 'no answer within 15 s' : 'closed without an answer';
  else if (a.status >= 500) r.problem = `HTTP ${a.status}`;
  else if (want ? !want.includes(a.status) : a.status < 400 || a.status >= 500) r.problem = `HTTP ${a.status}, want ${want?.join('/') ?? '4xx'}`;
  else {
    let body: { statusCode?: unknown; message?: unknown } | undefined;
    try {
      body = JSON.parse(a.body);
    } catch {
      // not JSON
    }
    const page = c.html && /^<!doctype html>/i.test(a.body) && a.body.includes(`<title>`);
    if (!page && (!body || body.statusCode !== a.status || typeof body.message !== 'string')) r.problem = `HTTP ${a.status} without the JSON error shape: ${a.body.slice(0, 80)}`;
    else if (/root:x:0:0|\bat [^\n]*\(?[/\w.-]+\.[cm]?js:\d+:\d+|\/work\/|syntax error at|pg_catalog/i.test(a.body)) r.problem = `HTTP ${a.status} leaks internals: ${a.body.slice(0, 120)}`;
  }
  return r;
}

type Slow = 'headers' | 'body' | 'stalled body';

/** One byte a second (or a body that stops after its first byte): when does the server answer 408 or close? */
async function trickle(port: number | string, what: Slow, host: string, capMs: number): Promise<RawAnswer> {
  const body = '{"question":"slow","choices":["a","b"]}'.padEnd(2000, ' ');
  const full = what === 'headers'
    ? `GET /api/polls HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'s'.repeat(2000)}\r\n\r\n`
    : `POST /api/polls HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const headEnd = full.indexOf('\r\n\r\n') + 4;
  const parts = what === 'headers' ? [...full] : what === 'body' ? [full.slice(0, headEnd), ...full.slice(headEnd)] : [full.slice(0, headEnd + 1)];
  return raw(port, parts, { gapMs: 1000, timeoutMs: capMs });
}

await t.test('the bad-input catalogue, through the proxy and straight to a worker', async (t) => {
  const stack = await startStack(t);
  const TENANTS = ['client1', 'client2'];
  const url = serverUrl(stack);
  const rowsBefore = await Promise.all(TENANTS.map((x) => rowCounts(url, x)));
  const restartsBefore = await restarts(stack);
  const targets: [Result['where'], number | string][] = [['proxy', stack.httpPort], ['worker', stack.workerSocket('client1')]];

  // Slow clients run alongside the catalogue, each capped at 30 s.
  const SLOW_CAP_MS = 30_000;
  const slow = targets.flatMap(([where, port]) =>
    (['headers', 'body', 'stalled body'] as const).map(async (what) => ({ where, what, answer: await trickle(port, what, 'client1.localhost', SLOW_CAP_MS) })),
  );

  const results: Result[] = [];
  for (const c of catalogue) {
    for (const [where, port] of targets) {
      results.push(judge(c, where, await raw(port, c.request('client1.localhost'), { timeoutMs: 15_000 })));
    }
  }
  const slowResults = await Promise.all(slow);

  const rowsAfter = await Promise.all(TENANTS.map((x) => rowCounts(url, x)));
  const restartsAfter = await restarts(stack);
  const problems = results.filter((r) => r.problem);
  const fiveXX = results.filter((r) => r.answer.status >= 500).length;
  for (const r of problems) t.comment(`problem: ${r.where}: ${r.name}: ${r.problem}`);
  const statusesBy = (where: string) => JSON.stringify(results.filter((r) => r.where === where).reduce<Record<string, number>>((m, r) => ((m[r.answer.status] = (m[r.answer.status] ?? 0) + 1), m), {}));
  t.comment(`statuses through the proxy: ${statusesBy('proxy')}; straight to the worker: ${statusesBy('worker')}`);
  for (const s of slowResults) t.comment(`slow ${s.what} via ${s.where}: ${s.answer.status ? `HTTP ${s.answer.status}` : 'no answer'}, ${s.answer.timedOut ? 'still open at the cap' : 'closed by the server'} after ${Math.round(s.answer.ms)} ms`);
  const slowMs = (where: string, what: Slow) => Math.round(slowResults.find((s) => s.where === where && s.what === what)!.answer.ms);
  printFigures(t, 'bad-input', {
    sent: results.length + slowResults.length,
    failed: problems.length,
    wrongTenant: 0,
    cases: catalogue.length,
    fiveXX,
    slowHeadersProxyMs: slowMs('proxy', 'headers'),
    slowHeadersWorkerMs: slowMs('worker', 'headers'),
    slowBodyProxyMs: slowMs('proxy', 'body'),
    slowBodyWorkerMs: slowMs('worker', 'body'),
    stalledBodyProxyMs: slowMs('proxy', 'stalled body'),
    stalledBodyWorkerMs: slowMs('worker', 'stalled body'),
    restarts: Object.keys(restartsAfter).reduce((n, k) => n + restartsAfter[k]! - (restartsBefore[k] ?? 0), 0),
  });

  t.equal(fiveXX, 0, 'no 5xx');
  t.same(problems.map((r) => `${r.where}: ${r.name}: ${r.problem}`), [], 'each case gets its clear 4xx in the JSON error shape');
  for (const s of slowResults) {
    // Through nginx, a trickled body is passed on unbuffered and the worker's request
    // timeout ends it (proxy/nginx.conf: nginx itself has no total body deadline).
    t.notOk(s.answer.timedOut, `slow ${s.what} via ${s.where}: cut off by the server (${Math.round(s.answer.ms)} ms)`);
    // Not timed out means closed before the client's own 15 s cap; how soon is a figure above.
    if (s.answer.status) t.equal(s.answer.status, 408, `slow ${s.what} via ${s.where}: 408 when it answers`);
  }
  t.same(restartsAfter, restartsBefore, 'no process restarted');
  t.same(rowsAfter, rowsBefore, 'no row changed in any tenant database');
});
