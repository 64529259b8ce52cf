/**
 * The "-after-apply" kinds serve the request in full, a PUT included, and then lose the answer:
 * CUC applied the change but the client never learned it.
 */
export type FaultKind =
  | "503"
  | "500-html"
  | "drop"
  | "slow"
  | "drop-after-apply"
  | "slow-after-apply";

type DelayedFaultKind = "slow" | "slow-after-apply";

export type Fault =
  | { kind: Exclude<FaultKind, DelayedFaultKind> }
  | { kind: DelayedFaultKind; delayMs: number };

/** `"none"` lets one request through untouched, to aim a fault at a later request. */
export type FaultSpec = FaultKind | "none" | { kind: DelayedFaultKind; delayMs: number };

export const DEFAULT_SLOW_DELAY_MS = 30_000;

/**
 * Random faults leave out the slow kinds unless asked, since a 30 s stall on a random request stalls
 * most tests, and the after-apply kinds, which change state behind the client's back.
 */
export const DEFAULT_RANDOM_FAULT_KINDS: readonly FaultKind[] = ["503", "500-html", "drop"];

/** mulberry32: a tiny seedable generator, so a seed replays the same fault sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

function toFault(spec: Exclude<FaultSpec, "none">): Fault {
  if (typeof spec !== "string") return spec;
  return spec === "slow" || spec === "slow-after-apply"
    ? { kind: spec, delayMs: DEFAULT_SLOW_DELAY_MS }
    : { kind: spec };
}

/** Decides the fault, if any, for each served request: injected faults first, then random ones. */
export class FaultPlan {
  readonly #injected: Array<Fault | undefined> = [];
  readonly #rate: number;
  readonly #kinds: readonly FaultKind[];
  readonly #random: () => number;

  constructor(rate: number, kinds: readonly FaultKind[], random: () => number) {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError("faultRate must be between 0 and 1");
    if (rate > 0 && kinds.length === 0) throw new RangeError("faultKinds must not be empty");
    this.#rate = rate;
    this.#kinds = kinds;
    this.#random = random;
  }

  inject(specs: readonly FaultSpec[]): void {
    this.#injected.push(...specs.map((spec) => (spec === "none" ? undefined : toFault(spec))));
  }

  clearInjected(): void {
    this.#injected.length = 0;
  }

  next(): Fault | undefined {
    if (this.#injected.length > 0) return this.#injected.shift();
    // Draw only when random faults are on, so a seed maps to one sequence of faulted requests.
    if (this.#rate === 0 || this.#random() >= this.#rate) return undefined;
    const kind = this.#kinds[Math.floor(this.#random() * this.#kinds.length)];
    return kind === undefined ? undefined : toFault(kind);
  }
}
