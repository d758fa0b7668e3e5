/**
 * How a delivery is signed: HMAC-SHA256 with the hook's secret over `<timestamp>.<body>`,
 * sent as `Silo-Signature: t=<unix seconds>,v1=<hex>`. The timestamp is the time of the
 * attempt (a retry is signed again), so a receiver can refuse an old one: a replay.
 * The README's verification snippet is the receiving side of this.
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'silo-signature';

export function signatureHeader(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}
