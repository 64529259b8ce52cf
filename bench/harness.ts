import { cpus, totalmem } from "node:os";

export interface BenchOptions {
  /** Tiny sizes for the smoke test in `npm test`: the harness runs end to end, no figure is judged. */
  readonly quick: boolean;
  /** Progress lines for a human watching the run. */
  readonly log: (line: string) => void;
}

/** One target from issue 6, judged on this run's figures. */
export interface TargetCheck {
  readonly name: string;
  /** Human-readable, for example "≥ 0.90" or "< 20 MB". */
  readonly target: string;
  readonly actual: number;
  readonly met: boolean;
}

export interface BenchResult {
  /** Every figure measured, JSON-serialisable, units in the key names (`…Ms`, `…Bytes`, `…PerSecond`). */
  readonly figures: Record<string, unknown>;
  readonly targets: readonly TargetCheck[];
}

/** What every `bench/<name>.ts` module exports. */
export interface BenchModule {
  run(options: BenchOptions): Promise<BenchResult>;
}

export function atLeast(name: string, minimum: number, actual: number, unit = ""): TargetCheck {
  return { name, target: `≥ ${minimum}${unit}`, actual, met: actual >= minimum };
}

export function atMost(name: string, maximum: number, actual: number, unit = ""): TargetCheck {
  return { name, target: `≤ ${maximum}${unit}`, actual, met: actual <= maximum };
}

export function lessThan(name: string, bound: number, actual: number, unit = ""): TargetCheck {
  return { name, target: `< ${bound}${unit}`, actual, met: actual < bound };
}

/** The value below which `fraction` (0..1) of the sorted samples lie (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) throw new RangeError("no samples");
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function median(samples: readonly number[]): number {
  return percentile(
    [...samples].sort((a, b) => a - b),
    0.5,
  );
}

/** Rounds for reports: figures keep 3 significant digits. */
export function round(value: number, digits = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
}

export function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    cpu: cores[0]?.model ?? "unknown",
    cores: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
