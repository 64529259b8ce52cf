/** The throttle benchmark's chart: goodput and 503 share against container count, as plain SVG. */
import { CHART_WIDTH, chartOpening } from "./svg-chart.ts";

export interface ThrottleChartRow {
  readonly containers: number;
  /** 0..1 of the ideal. */
  readonly goodputShare: number;
  /** 0..1 of all requests. */
  readonly throttledShare: number;
}

const PLOT = { left: 70, right: 570, top: 50, bottom: 300 };
const GOODPUT_COLOUR = "#1f77b4";
const THROTTLED_COLOUR = "#d62728";

export function renderThrottleChart(rows: readonly ThrottleChartRow[]): string {
  if (rows.length === 0) throw new RangeError("no rows to chart");
  const counts = rows.map((row) => row.containers);
  const maxCount = Math.max(...counts);
  // 503s are a few percent at most: their own axis, at least 0–10 %, so they stay readable.
  const throttledCeiling = Math.max(
    0.1,
    Math.ceil(Math.max(...rows.map((row) => row.throttledShare)) * 10) / 10,
  );
  const x = (containers: number) =>
    PLOT.left + ((containers - 0) / maxCount) * (PLOT.right - PLOT.left);
  const yGoodput = (share: number) => PLOT.bottom - share * (PLOT.bottom - PLOT.top);
  const yThrottled = (share: number) =>
    PLOT.bottom - (share / throttledCeiling) * (PLOT.bottom - PLOT.top);
  const parts: string[] = [
    ...chartOpening("CUC throttle: goodput and 503 share by container count", PLOT),
    `<line x1="${PLOT.right}" y1="${PLOT.top}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="black"/>`,
  ];
  for (let tick = 0; tick <= 4; tick++) {
    const share = tick / 4;
    const y = yGoodput(share);
    parts.push(
      `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 8}" y="${y + 4}" text-anchor="end" fill="${GOODPUT_COLOUR}">${share * 100}%</text>`,
      `<text x="${PLOT.right + 8}" y="${y + 4}" fill="${THROTTLED_COLOUR}">${formatPercent(share * throttledCeiling)}</text>`,
    );
  }
  const goodputTarget = yGoodput(0.85);
  const throttledTarget = yThrottled(0.02);
  parts.push(
    `<line x1="${PLOT.left}" y1="${goodputTarget}" x2="${PLOT.right}" y2="${goodputTarget}" stroke="${GOODPUT_COLOUR}" stroke-dasharray="4 4"/>`,
    `<text x="${PLOT.left + 6}" y="${goodputTarget - 6}" fill="${GOODPUT_COLOUR}">goodput target ≥ 85%</text>`,
    `<line x1="${PLOT.left}" y1="${throttledTarget}" x2="${PLOT.right}" y2="${throttledTarget}" stroke="${THROTTLED_COLOUR}" stroke-dasharray="4 4"/>`,
    `<text x="${PLOT.right - 6}" y="${throttledTarget - 6}" text-anchor="end" fill="${THROTTLED_COLOUR}">503 target ≤ 2% (10 containers)</text>`,
  );
  for (const count of counts) {
    parts.push(
      `<text x="${x(count)}" y="${PLOT.bottom + 18}" text-anchor="middle">${count}</text>`,
    );
  }
  parts.push(
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 40}" text-anchor="middle">containers (separate processes, no coordination)</text>`,
    `<text transform="translate(18 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle" fill="${GOODPUT_COLOUR}">goodput, share of the ideal 50 requests/s</text>`,
    `<text transform="translate(${CHART_WIDTH - 14} ${(PLOT.top + PLOT.bottom) / 2}) rotate(90)" text-anchor="middle" fill="${THROTTLED_COLOUR}">503s, share of requests</text>`,
    series(
      rows.map((row) => [x(row.containers), yGoodput(row.goodputShare)]),
      GOODPUT_COLOUR,
    ),
    series(
      rows.map((row) => [x(row.containers), yThrottled(row.throttledShare)]),
      THROTTLED_COLOUR,
    ),
  );
  for (const row of rows) {
    parts.push(
      `<text x="${x(row.containers)}" y="${yGoodput(row.goodputShare) - 10}" text-anchor="middle" fill="${GOODPUT_COLOUR}">${formatPercent(row.goodputShare)}</text>`,
      `<text x="${x(row.containers)}" y="${yThrottled(row.throttledShare) - 10}" text-anchor="middle" fill="${THROTTLED_COLOUR}">${formatPercent(row.throttledShare)}</text>`,
    );
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function series(points: ReadonlyArray<readonly [number, number]>, colour: string): string {
  const path = points.map(([px, py]) => `${round1(px)},${round1(py)}`).join(" ");
  const dots = points
    .map(([px, py]) => `<circle cx="${round1(px)}" cy="${round1(py)}" r="4" fill="${colour}"/>`)
    .join("");
  return `<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="2"/>${dots}`;
}

function formatPercent(share: number): string {
  return `${Number((share * 100).toFixed(1))}%`;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
