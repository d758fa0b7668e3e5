/**
 * Crash injection, part 1b: `tenant create` killed before each step of the second half
 * of its step list (starting the worker and routing it among them), then run again (see
 * helpers/crash-create.ts).
 */
import t from 'tap';
import { crashCreateHalf } from '../helpers/crash-create.js';

t.setTimeout(175_000);
await crashCreateHalf(t, 1);
