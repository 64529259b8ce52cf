// Stands in for @aws-lambda-powertools/metrics in the cold-start bench's "without metrics" build:
// the same interface, nothing loaded, nothing printed. What the handler loads with and without it
// is what the metrics cost at cold start (issue 14).
export const MetricUnit = { Count: "Count", Milliseconds: "Milliseconds" } as const;

export class Metrics {
  addDimension(): this {
    return this;
  }
  addDimensions(): this {
    return this;
  }
  addMetric(): void {}
  publishStoredMetrics(): void {}
}
