// Which event of a batch each CUC request was made for, to count CUC requests per event by action.
import type { RecordedRequest } from "../dev/cupi-simulator/index.ts";
import type { WorkloadAction } from "./container.ts";

/** An event of the batch, as the workload made it. */
export interface BatchEvent {
  readonly action: WorkloadAction;
  readonly alias: string;
  readonly objectId: string;
}

/**
 * Counts a batch's CUC requests against its events' actions. A request names its user (the
 * objectId in its path, or the alias in a search) and goes to that user's event: a batch holds
 * distinct users. A request that names none (an authentication rule, the version) goes to the
 * events that generate a value, which are the ones that read rules, shared evenly; to all events
 * when none does.
 */
export function requestsByAction(
  requests: readonly RecordedRequest[],
  events: readonly BatchEvent[],
): Map<WorkloadAction, number> {
  const counts = new Map<WorkloadAction, number>();
  const add = (action: WorkloadAction, share: number) =>
    counts.set(action, (counts.get(action) ?? 0) + share);
  const generating = events.filter((event) => GENERATES.has(event.action));
  const sharers = generating.length > 0 ? generating : events;
  for (const request of requests) {
    const path = request.path.toLowerCase();
    const search = (request.query.query ?? "").toLowerCase();
    const owner = events.find(
      (event) =>
        path.includes(event.objectId.toLowerCase()) ||
        search === `(alias is ${event.alias.toLowerCase()})`,
    );
    if (owner !== undefined) add(owner.action, 1);
    else for (const event of sharers) add(event.action, 1 / sharers.length);
  }
  return counts;
}

const GENERATES: ReadonlySet<WorkloadAction> = new Set(["reset-pin-generated", "offboard"]);
