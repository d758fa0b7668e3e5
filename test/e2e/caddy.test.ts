import t from 'tap';
import { stackSuite } from './stack-suite.js';

t.test('the whole stack through Caddy', (t) => stackSuite(t, 'caddy'));
