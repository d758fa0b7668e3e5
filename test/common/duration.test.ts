import t from 'tap';
import { ago, isDuration, parseDuration } from '../../src/common/duration.js';

t.test('durations: 0 is never, a number needs a unit', async (t) => {
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('15m'), 900_000);
  t.equal(parseDuration('2h'), 7_200_000);
  for (const bad of ['', '15', '1.5m', '-1s', '00', '015m', '1d', 'soon', '15 m', '99999999s']) {
    t.equal(isDuration(bad), false, JSON.stringify(bad));
    t.throws(() => parseDuration(bad), /invalid duration/, JSON.stringify(bad));
  }
});

t.test('ago: seconds, then minutes, hours, days', async (t) => {
  t.equal(ago(0), '0s');
  t.equal(ago(-5), '0s');
  t.equal(ago(119_000), '119s');
  t.equal(ago(120_000), '2m');
  t.equal(ago(7_200_000), '2h');
  t.equal(ago(3 * 86_400_000), '3d');
});
