import t from 'tap';
import { stackSuite } from './stack-suite.js';

t.test('the whole stack through nginx', (t) => stackSuite(t, 'nginx'));
