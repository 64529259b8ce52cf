/** The round-trip benchmark's chart: CUC requests per event by action, as plain SVG bars. */
import { chartOpening } from "./svg-chart.ts";

export interface RequestsChartRow {
  readonly label: string;
  readonly requestsPerEvent: number;
}

const PLOT = { left: 60, right: 620, top: 50, bottom: 280 };
const BAR_COLOUR = "#1f77b4";
const MIX_COLOUR = "#ff7f0e";
const TARGET_COLOUR = "#d62728";

/** One bar per action and one for the whole mix (last), with the mix's target as a line. */
export function renderRequestsChart(
  rows: readonly RequestsChartRow[],
  mix: RequestsChartRow,
  target: number,
): string {
  const bars = [...rows, mix];
  const ceiling = Math.ceil(Math.max(target, ...bars.map((bar) => bar.requestsPerEvent)) + 0.5);
  const slot = (PLOT.right - PLOT.left) / bars.length;
  const y = (value: number) => PLOT.bottom - (value / ceiling) * (PLOT.bottom - PLOT.top);
  const parts: string[] = chartOpening("CUC requests per event, by action", PLOT);
  for (let tick = 0; tick <= ceiling; tick++) {
    parts.push(
      `<line x1="${PLOT.left}" y1="${y(tick)}" x2="${PLOT.right}" y2="${y(tick)}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 8}" y="${y(tick) + 4}" text-anchor="end">${tick}</text>`,
    );
  }
  bars.forEach((bar, index) => {
    const x = PLOT.left + index * slot + slot * 0.15;
    const top = y(bar.requestsPerEvent);
    const colour = bar === mix ? MIX_COLOUR : BAR_COLOUR;
    parts.push(
      `<rect x="${x}" y="${top}" width="${slot * 0.7}" height="${PLOT.bottom - top}" fill="${colour}"/>`,
      `<text x="${x + slot * 0.35}" y="${top - 6}" text-anchor="middle">${bar.requestsPerEvent.toFixed(2)}</text>`,
      `<text x="${x + slot * 0.35}" y="${PLOT.bottom + 18}" text-anchor="middle">${bar.label}</text>`,
    );
  });
  parts.push(
    `<line x1="${PLOT.left}" y1="${y(target)}" x2="${PLOT.right}" y2="${y(target)}" stroke="${TARGET_COLOUR}" stroke-dasharray="4 4"/>`,
    `<text x="${PLOT.right - 4}" y="${y(target) - 6}" text-anchor="end" fill="${TARGET_COLOUR}">mix target ≤ ${target}</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
