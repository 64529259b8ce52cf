import { describe, expect, it } from "vitest";
import { renderRequestsChart } from "../../bench/requests-chart.ts";

describe("renderRequestsChart", () => {
  it("draws a labelled bar per action, the mix's last, and the target as a line", () => {
    const svg = renderRequestsChart(
      [
        { label: "reset-pin", requestsPerEvent: 3 },
        { label: "offboard", requestsPerEvent: 10.8 },
      ],
      { label: "helpdesk mix", requestsPerEvent: 3.79 },
      2.1,
    );
    const bars = [
      ...svg.matchAll(
        /<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="([^"]+)"\/>/g,
      ),
    ];
    expect(bars).toHaveLength(3);
    // Heights in proportion to the figures; the mix in its own colour.
    const heights = bars.map(([, , height]) => Number(height));
    expect((heights[1] as number) / (heights[0] as number)).toBeCloseTo(10.8 / 3, 5);
    expect(bars[2]?.[3]).not.toBe(bars[0]?.[3]);
    for (const label of ["reset-pin", "offboard", "helpdesk mix", "3.00", "10.80", "3.79"]) {
      expect(svg).toContain(`>${label}<`);
    }
    expect(svg).toContain("mix target ≤ 2.1");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });
});
