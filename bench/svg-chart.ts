/** What the benchmarks' SVG charts share: the canvas, its title and the plot's axes. */

export const CHART_WIDTH = 640;
export const CHART_HEIGHT = 360;

export interface PlotArea {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** The opening of a chart: the SVG element, a white canvas, the title, the bottom and left axes. */
export function chartOpening(title: string, plot: PlotArea): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    `<rect width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="white"/>`,
    `<text x="${CHART_WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${title}</text>`,
    `<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="black"/>`,
    `<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="black"/>`,
  ];
}
