/**
 * Test helper (no tests here): the polls HTTP contract as ONE suite, run through
 * `fastify.inject` (test/app/api.test.ts) and against real worker processes, once per
 * tenant (test/worker/process.test.ts). It assumes the tenant's database starts empty.
 */
import type { Test } from 'tap';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as is. */
  payload?: string | Buffer | object;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Sends with the tenant's Host unless the request sets its own. */
export type HttpClient = (req: HttpRequest) => Promise<HttpResponse>;

export interface SuiteOptions {
  client: HttpClient;
  tenant: string;
  /** Row counts of the app's tables, to prove rejected requests changed nothing. */
  counts?: () => Promise<Record<string, number>>;
  /**
   * What a Host that is not this tenant's gets: 421 from a worker; through the proxy
   * such a request never reaches a worker and the proxy answers 404 itself.
   */
  foreignHostStatus?: number;
}

interface PollBody {
  id: number;
  question: string;
  createdAt: string;
  choices: { id: number; text: string; votes: number }[];
}

const json = <T>(res: HttpResponse): T => JSON.parse(res.body) as T;

export function expectError(t: Test, res: HttpResponse, status: number, label: string): void {
  t.equal(res.statusCode, status, `${label}: ${status}`);
  t.match(String(res.headers['content-type']), /^application\/json/, `${label}: JSON`);
  let body: Record<string, unknown> = {};
  try {
    body = json(res);
  } catch {
    t.fail(`${label}: body is not JSON: ${res.body.slice(0, 100)}`);
  }
  t.match(body, { statusCode: status, error: String, message: String }, `${label}: Fastify error shape`);
  t.notOk('stack' in body, `${label}: no stack`);
}

const post = (url: string, payload: HttpRequest['payload'], headers?: Record<string, string>): HttpRequest => ({
  method: 'POST',
  url,
  payload,
  ...(headers ? { headers } : {}),
});

export async function pollsHttpSuite(t: Test, { client, tenant, counts, foreignHostStatus = 421 }: SuiteOptions): Promise<void> {
  let poll!: PollBody;
  let other!: PollBody;

  await t.test('GET /api/tenant names this tenant', async (t) => {
    const res = await client({ method: 'GET', url: '/api/tenant' });
    t.equal(res.statusCode, 200);
    t.same(json(res), { tenant });
  });

  await t.test('a new tenant has no polls', async (t) => {
    const res = await client({ method: 'GET', url: '/api/polls' });
    t.equal(res.statusCode, 200);
    t.same(json(res), []);
  });

  await t.test('POST /api/polls creates a poll with its choices in order', async (t) => {
    const res = await client(post('/api/polls', { question: `Best editor for ${tenant}?`, choices: ['vim', 'emacs', 'nano'] }));
    t.equal(res.statusCode, 201);
    poll = json<PollBody>(res);
    t.equal(typeof poll.id, 'number');
    t.equal(poll.question, `Best editor for ${tenant}?`);
    t.ok(!Number.isNaN(Date.parse(poll.createdAt)), 'createdAt is a date');
    t.same(poll.choices.map((c) => [c.text, c.votes]), [['vim', 0], ['emacs', 0], ['nano', 0]]);
    t.ok(poll.choices.every((c) => typeof c.id === 'number'), 'choice ids are numbers');

    const second = await client(post('/api/polls', { question: 'Tabs or spaces? <b>&</b> ✓ 🎉', choices: ['tabs', 'spaces'] }));
    t.equal(second.statusCode, 201);
    other = json<PollBody>(second);
    t.equal(other.question, 'Tabs or spaces? <b>&</b> ✓ 🎉', 'unicode and markup kept verbatim');
  });

  await t.test('GET /api/polls lists polls ordered by id, with choices', async (t) => {
    const res = await client({ method: 'GET', url: '/api/polls' });
    t.equal(res.statusCode, 200);
    t.same(json(res), [poll, other]);
  });

  await t.test('GET /api/polls/:id returns the poll', async (t) => {
    const res = await client({ method: 'GET', url: `/api/polls/${poll.id}` });
    t.equal(res.statusCode, 200);
    t.same(json(res), poll);
  });

  await t.test('POST /api/polls/:id/votes counts votes', async (t) => {
    const choice = poll.choices[1]!;
    const first = await client(post(`/api/polls/${poll.id}/votes`, { choiceId: choice.id, voter: 'ada' }));
    t.equal(first.statusCode, 201);
    t.same(json(first), { choiceId: choice.id, votes: 1 });
    const second = await client(post(`/api/polls/${poll.id}/votes`, { choiceId: choice.id, voter: 'grace' }));
    t.same(json(second), { choiceId: choice.id, votes: 2 });
    const res = await client({ method: 'GET', url: `/api/polls/${poll.id}` });
    t.same(json<PollBody>(res).choices.map((c) => c.votes), [0, 2, 0]);
  });

  await t.test('bad input gets a clear 4xx and changes nothing', async (t) => {
    const before = await counts?.();
    const listBefore = (await client({ method: 'GET', url: '/api/polls' })).body;
    const big = 'x'.repeat(70_000);
    const cases: [string, HttpRequest, number][] = [
      ['malformed JSON', post('/api/polls', '{"question": "q", "choices": [', { 'content-type': 'application/json' }), 400],
      ['empty JSON body', post('/api/polls', '', { 'content-type': 'application/json' }), 400],
      ['JSON that is not an object', post('/api/polls', '"hello"', { 'content-type': 'application/json' }), 400],
      ['missing fields', post('/api/polls', {}), 400],
      ['missing choices', post('/api/polls', { question: 'q' }), 400],
      ['question of the wrong type', post('/api/polls', { question: 42, choices: ['a', 'b'] }), 400],
      ['choices of the wrong type', post('/api/polls', { question: 'q', choices: 'a,b' }), 400],
      ['choice of the wrong type', post('/api/polls', { question: 'q', choices: ['a', 2] }), 400],
      ['extra property', post('/api/polls', { question: 'q', choices: ['a', 'b'], admin: true }), 400],
      ['empty question', post('/api/polls', { question: '', choices: ['a', 'b'] }), 400],
      ['question too long', post('/api/polls', { question: 'q'.repeat(201), choices: ['a', 'b'] }), 400],
      ['one choice', post('/api/polls', { question: 'q', choices: ['a'] }), 400],
      ['eleven choices', post('/api/polls', { question: 'q', choices: 'abcdefghijk'.split('') }), 400],
      ['empty choice', post('/api/polls', { question: 'q', choices: ['a', ''] }), 400],
      ['choice too long', post('/api/polls', { question: 'q', choices: ['a', 'b'.repeat(101)] }), 400],
      ['NUL in question', post('/api/polls', { question: 'a\u0000b', choices: ['a', 'b'] }), 400],
      ['NUL in choice', post('/api/polls', { question: 'q', choices: ['a', '\u0000'] }), 400],
      ['lone surrogate', post('/api/polls', '{"question":"\\ud800","choices":["a","b"]}', { 'content-type': 'application/json' }), 400],
      [
        'invalid UTF-8',
        post('/api/polls', Buffer.concat([Buffer.from('{"question":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","choices":["a","b"]}')]), {
          'content-type': 'application/json',
        }),
        400,
      ],
      ['prototype poisoning', post('/api/polls', '{"question":"q","choices":["a","b"],"__proto__":{"x":1}}', { 'content-type': 'application/json' }), 400],
      ['oversized body', post('/api/polls', { question: 'q', choices: [big, big] }), 413],
      ['text/plain body', post('/api/polls', 'question=q', { 'content-type': 'text/plain' }), 415],
      ['form body on the JSON API', post('/api/polls', 'question=q&choices=a&choices=b', { 'content-type': 'application/x-www-form-urlencoded' }), 415],
      ['vote: choiceId as a string', post(`/api/polls/${poll.id}/votes`, { choiceId: String(poll.choices[0]!.id), voter: 'v' }), 400],
      ['vote: choiceId zero', post(`/api/polls/${poll.id}/votes`, { choiceId: 0, voter: 'v' }), 400],
      ['vote: negative choiceId', post(`/api/polls/${poll.id}/votes`, { choiceId: -1, voter: 'v' }), 400],
      ['vote: fractional choiceId', post(`/api/polls/${poll.id}/votes`, { choiceId: 1.5, voter: 'v' }), 400],
      ['vote: huge choiceId', post(`/api/polls/${poll.id}/votes`, '{"choiceId":99999999999999999999999,"voter":"v"}', { 'content-type': 'application/json' }), 400],
      ['vote: missing voter', post(`/api/polls/${poll.id}/votes`, { choiceId: poll.choices[0]!.id }), 400],
      ['vote: empty voter', post(`/api/polls/${poll.id}/votes`, { choiceId: poll.choices[0]!.id, voter: '' }), 400],
      ['vote: voter too long', post(`/api/polls/${poll.id}/votes`, { choiceId: poll.choices[0]!.id, voter: 'v'.repeat(101) }), 400],
      ['vote: NUL in voter', post(`/api/polls/${poll.id}/votes`, { choiceId: poll.choices[0]!.id, voter: 'x\u0000' }), 400],
      ['vote: extra property', post(`/api/polls/${poll.id}/votes`, { choiceId: poll.choices[0]!.id, voter: 'v', votes: 100 }), 400],
      ['vote: malformed JSON', post(`/api/polls/${poll.id}/votes`, '{choiceId:1}', { 'content-type': 'application/json' }), 400],
      ['vote: choice of another poll', post(`/api/polls/${poll.id}/votes`, { choiceId: other.choices[0]!.id, voter: 'v' }), 400],
      ['vote: unknown choice', post(`/api/polls/${poll.id}/votes`, { choiceId: 999_999_999, voter: 'v' }), 400],
      ['vote: unknown poll', post('/api/polls/999999999/votes', { choiceId: poll.choices[0]!.id, voter: 'v' }), 404],
    ];
    for (const id of ['-1', '0', '01', 'abc', '1.5', '1e3', '1;drop', '1%00', '%FF', '99999999999999999999', '9007199254740993']) {
      cases.push([`GET bad id ${id}`, { method: 'GET', url: `/api/polls/${id}` }, 400]);
      cases.push([`DELETE bad id ${id}`, { method: 'DELETE', url: `/api/polls/${id}` }, 400]);
      cases.push([`vote on bad id ${id}`, post(`/api/polls/${id}/votes`, { choiceId: 1, voter: 'v' }), 400]);
    }
    cases.push(['GET unknown poll', { method: 'GET', url: '/api/polls/999999999999999' }, 404]);
    cases.push(['DELETE unknown poll', { method: 'DELETE', url: '/api/polls/999999999999999' }, 404]);
    cases.push(['unknown route', { method: 'GET', url: '/api/nope' }, 404]);

    for (const [label, req, status] of cases) expectError(t, await client(req), status, label);

    t.equal((await client({ method: 'GET', url: '/api/polls' })).body, listBefore, 'the polls are unchanged');
    if (counts) t.same(await counts(), before, 'no row was written');
  });

  await t.test('GET / shows the tenant and its polls as HTML, escaped', async (t) => {
    const res = await client({ method: 'GET', url: '/' });
    t.equal(res.statusCode, 200);
    t.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
    t.match(res.body, `<h1 id="tenant">${tenant}</h1>`);
    t.match(res.body, `<section class="poll" data-poll-id="${poll.id}">`);
    t.match(res.body, `<span class="votes" data-choice-id="${poll.choices[1]!.id}">2</span>`);
    t.match(res.body, 'Tabs or spaces? &lt;b&gt;&amp;&lt;/b&gt; ✓ 🎉', 'user text is escaped');
    t.notMatch(res.body, '<b>&</b>');
    t.notMatch(res.body, /<script|https?:\/\//i, 'no scripts, no external assets');
  });

  await t.test('the HTML forms create polls and vote, then redirect 303 to /', async (t) => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const created = await client(
      post('/polls', new URLSearchParams({ question: 'Form <poll>', choices: 'red\r\n\r\n green \r\nblue' }).toString(), form),
    );
    t.equal(created.statusCode, 303);
    t.equal(created.headers.location, '/');
    const polls = json<PollBody[]>(await client({ method: 'GET', url: '/api/polls' }));
    const made = polls.find((p) => p.question === 'Form <poll>');
    t.ok(made, 'the poll exists');
    t.same(made?.choices.map((c) => c.text), ['red', 'green', 'blue'], 'one choice per non-blank line, trimmed');

    const choice = made!.choices[2]!;
    const voted = await client(
      post(`/polls/${made!.id}/vote`, new URLSearchParams({ choiceId: String(choice.id), voter: 'form user' }).toString(), form),
    );
    t.equal(voted.statusCode, 303);
    const page = await client({ method: 'GET', url: '/' });
    t.match(page.body, `<span class="votes" data-choice-id="${choice.id}">1</span>`);

    const bad = await client(post('/polls', new URLSearchParams({ question: 'q', choices: 'only one' }).toString(), form));
    t.equal(bad.statusCode, 400, 'a form error is a 400');
    t.match(String(bad.headers['content-type']), /^text\/html/, 'shown as a page');
    t.match(bad.body, 'href="/"');
    const cross = await client(
      post(`/polls/${made!.id}/vote`, new URLSearchParams({ choiceId: String(poll.choices[0]!.id), voter: 'x' }).toString(), form),
    );
    t.equal(cross.statusCode, 400, 'a choice of another poll is refused');
  });

  await t.test('DELETE /api/polls/:id removes the poll, then 404', async (t) => {
    const res = await client({ method: 'DELETE', url: `/api/polls/${other.id}` });
    t.equal(res.statusCode, 204);
    t.equal(res.body, '');
    expectError(t, await client({ method: 'GET', url: `/api/polls/${other.id}` }), 404, 'deleted poll');
    expectError(t, await client({ method: 'DELETE', url: `/api/polls/${other.id}` }), 404, 'deleted twice');
  });

  await t.test(`a request for another host gets ${foreignHostStatus} and no data`, async (t) => {
    for (const host of ['other.localhost', 'localhost', '127.0.0.1', `${tenant}.localhost.evil.test`]) {
      const res = await client({ method: 'GET', url: '/api/polls', headers: { host } });
      expectError(t, res, foreignHostStatus, `Host ${host}`);
      t.notMatch(res.body, poll.question);
    }
  });
}
