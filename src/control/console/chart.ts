/** A small inline SVG line chart (a sparkline) of one tenant's recent samples. */
import { html, type Html } from './html.js';

const W = 120;
const H = 24;

export function sparkline(values: number[], label: string): Html {
  if (values.length < 2) return html`<svg class="spark" width="${W}" height="${H}" role="img" aria-label="${label}: not enough samples yet"><line x1="0" y1="${H - 1}" x2="${W}" y2="${H - 1}" class="base"/></svg>`;
  const max = Math.max(...values, 1);
  const step = W / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`).join(' ');
  const last = values[values.length - 1]!;
  return html`<svg class="spark" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}: last ${Math.round(last)}, peak ${Math.round(max)}"><title>${label}: last ${Math.round(last)}, peak ${Math.round(max)}</title><polyline points="${points}"/></svg>`;
}
