import { randomInt } from "node:crypto";

/** A uniformly chosen element; `items` must not be empty. */
export function pickRandom<T>(items: readonly T[]): T {
  const item = items[randomInt(items.length)];
  if (item === undefined) throw new RangeError("Cannot pick from an empty list");
  return item;
}

/** `count` distinct integers from [0, bound), uniformly (partial Fisher-Yates). */
export function randomDistinctIndices(count: number, bound: number): number[] {
  const indices = Array.from({ length: bound }, (_, index) => index);
  for (let position = 0; position < count; position++) {
    const swapWith = randomInt(position, bound);
    const chosen = indices[swapWith] ?? swapWith;
    indices[swapWith] = indices[position] ?? position;
    indices[position] = chosen;
  }
  return indices.slice(0, count);
}
