/** Something shared by every client of one host, made stricter when a client asks for that. */
export interface Tightenable<Options> {
  tighten(options: Options): void;
}

/**
 * The process-wide instance for one CUC origin: created on first use, then shared, taking the
 * strictest settings any client asked for.
 */
export function sharedPerOrigin<Options, Shared extends Tightenable<Options>>(
  registry: Map<string, Shared>,
  origin: string,
  options: Options,
  create: (options: Options) => Shared,
): Shared {
  const existing = registry.get(origin);
  if (existing !== undefined) {
    existing.tighten(options);
    return existing;
  }
  const created = create(options);
  registry.set(origin, created);
  return created;
}
