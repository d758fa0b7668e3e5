/**
 * What a tenant worker and the control plane agree on without importing each other: the
 * exit code of an app that cannot load, and the activity message the waker listens for.
 * Imports nothing (src/contract/ is the bottom layer, see test/layers.test.ts).
 */

/** The exit code of a worker whose app cannot load: PM2 is told not to restart on it. */
export const APP_ERROR_EXIT = 78;

/** The message type the waker listens for on PM2's bus. */
export const ACTIVITY_MESSAGE = 'silo:activity';

export interface ActivityReport {
  /** epoch ms of the last request that finished or started */
  lastRequestAt: number;
  inFlight: number;
}
