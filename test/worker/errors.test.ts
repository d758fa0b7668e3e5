import t from 'tap';
import { classify, errorBody } from '../../src/worker/errors.js';

t.test('database connection problems are 503 "database unavailable"', async (t) => {
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
    'SECRET_FILE_UNUSABLE', '57P01', '57P02', '57P03', '57P05', '53300', '08006', '08001', '28P01', '3D000', '25P03'];
  for (const code of codes) t.same(classify({ code, message: 'select secret from x' }), { statusCode: 503, message: 'database unavailable' }, code);
});

t.test('timeouts are 503 with a generic message', async (t) => {
  t.same(classify({ code: 'FST_ERR_HANDLER_TIMEOUT', statusCode: 503 }), { statusCode: 503, message: 'request timed out' });
  t.same(classify({ code: 'SILO_REQUEST_TIMEOUT', statusCode: 503 }), { statusCode: 503, message: 'request timed out' });
  t.same(classify({ code: 'SILO_REQUEST_TIMEOUT', statusCode: 503 }, { requestComplete: false }), { statusCode: 408, message: 'the request took too long to arrive' });
  t.same(classify({ code: 'FST_ERR_HANDLER_TIMEOUT', statusCode: 503 }, { requestComplete: true }), { statusCode: 503, message: 'request timed out' });
  t.same(
    classify({ code: 'FST_ERR_HANDLER_TIMEOUT', statusCode: 503 }, { requestComplete: false }),
    { statusCode: 408, message: 'the request took too long to arrive' },
    'a body still trickling in when the time runs out is a 408',
  );
  t.same(classify({ code: '57014' }), { statusCode: 503, message: 'database timed out' });
  t.same(classify({ code: '40001' }), { statusCode: 503, message: 'database busy, try again' });
});

t.test('data errors the schemas missed are 4xx, never 500', async (t) => {
  t.same(classify({ code: '22021', message: 'invalid byte sequence for encoding "UTF8": 0x00' }), { statusCode: 400, message: 'invalid input' });
  t.same(classify({ code: '23503', message: 'insert or update on table "votes" violates foreign key' }), { statusCode: 409, message: 'conflict with the current state' });
});

t.test('4xx keep their message, 5xx get a generic one', async (t) => {
  t.same(classify({ statusCode: 404, message: 'poll not found' }), { statusCode: 404, message: 'poll not found' });
  t.same(classify({ status: 413, message: 'Request body is too large' }), { statusCode: 413, message: 'Request body is too large' });
  t.same(classify({ message: 'relation "polls" does not exist at character 15' }), { statusCode: 500, message: 'internal server error' });
  t.same(classify({ statusCode: 502, message: 'upstream said: password=hunter2' }), { statusCode: 502, message: 'bad gateway' });
  t.same(classify({ statusCode: 200, message: 'odd' }), { statusCode: 500, message: 'internal server error' });
});

t.test('errorBody is Fastify\'s error shape', async (t) => {
  t.same(errorBody(421, 'x'), { statusCode: 421, error: 'Misdirected Request', message: 'x' });
});
