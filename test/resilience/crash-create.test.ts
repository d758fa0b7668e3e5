/**
 * Crash injection, part 1a: `tenant create` killed before each step of the first half
 * of its step list, then run again (see helpers/crash-create.ts; part 1b is the second
 * half; random moments and the other commands: crash-misc).
 */
import t from 'tap';
import { crashCreateHalf } from '../helpers/crash-create.js';

t.setTimeout(175_000);
await crashCreateHalf(t, 0);
