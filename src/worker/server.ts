/**
 * The process PM2 runs, one per tenant, when the build made no bundle (and what tests
 * run): start.ts does the work. The bundle's loader calls the same startWorker().
 */
import { startWorker } from './start.js';

void startWorker();
