/**
 * What a tenant worker and the control plane agree on without importing each other: the
 * exit code of an app that cannot load, and how a worker reports activity (the time of
 * its activity file, src/common/run-dir.ts names it).
 * Imports nothing (src/contract/ is the bottom layer, see test/layers.test.ts).
 */

/** The exit code of a worker whose app cannot load: PM2 is told not to restart on it. */
export const APP_ERROR_EXIT = 78;

/** A busy worker touches its activity file at least this often (the waker's idle clock). */
export const ACTIVITY_EVERY_MS = 1000;
