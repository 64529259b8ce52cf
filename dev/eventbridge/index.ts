// EventBridge stand-in: the real SDK's JSON 1.1 protocol over HTTP; rules route events to SQS.
import { fieldReaders } from "../aws-json/fields.ts";
import { JsonService, type Operation } from "../aws-json/server.ts";
import type { JsonObject } from "../aws-json/wire.ts";
import { DEFAULT_BUS, EventBuses, type Rule } from "./buses.ts";
import { matchesPattern, parseEventPattern } from "./pattern.ts";
import {
  detailOf,
  type EntryFailure,
  type EventEnvelope,
  envelopeOf,
  type RequestEntry,
  requestEntries,
} from "./put-events.ts";
import { type Delivery, type DeliveryFailure, SqsDelivery } from "./sqs-delivery.ts";
import { messageBodyOf, sqsTargetOf, targetResponse } from "./targets.ts";

/** The account in the stand-in's ARNs and events; the Secrets Manager stand-in uses the same. */
export const ACCOUNT_ID = "000000000000";

export interface EventBridgeStandInOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Used in ARNs and events; default us-east-1. */
  region?: string;
  /**
   * The SQS endpoint that rules' targets are delivered to, e.g. LocalQueues.endpoint. Without it
   * PutTargets is refused, since no target could be delivered to.
   */
  sqsEndpoint?: string;
  /** Custom buses created before the first request; "default" always exists. */
  eventBuses?: readonly string[];
}

/** An entry PutEvents accepted, whether or not its bus exists. */
export interface PublishedEvent {
  readonly id: string;
  /** The entry's EventBusName as given (a name or an ARN), or "default". */
  readonly bus: string;
  readonly source: string;
  readonly detailType: string;
  readonly detail: JsonObject;
  /** As the event carries it: ISO 8601 in whole seconds. */
  readonly time: string;
  readonly resources: readonly string[];
}

export interface EventBridgeStandIn {
  /** For example http://127.0.0.1:41234 */
  readonly url: string;
  /** Stops the server, then waits for deliveries under way. */
  close(): Promise<void>;
  /** Every entry that got an EventId, in order. */
  readonly published: PublishedEvent[];
  /**
   * The published entries whose bus does not exist here: AWS answers them with an EventId and
   * drops them, so the stand-in does too, and lists them (and logs a line) instead of failing.
   */
  readonly dropped: PublishedEvent[];
  readonly delivered: Delivery[];
  /** Sends to a target that failed: each also logged on one line. */
  readonly deliveryFailures: DeliveryFailure[];
  /** The operation of every request, in order. */
  readonly requests: string[];
  /**
   * The next `count` (default 1) calls of `operation` fail as a whole with the AWS error type
   * given, e.g. "ThrottlingException" (HTTP 400) or "InternalException" (HTTP 500).
   */
  failNext(operation: string, errorType: string, count?: number): void;
  /**
   * The next `count` entries that PutEvents would accept fail on their own instead, with
   * `errorCode` (default "InternalFailure"), in an answer that is still a 200.
   */
  failEntriesNext(count: number, errorCode?: string): void;
  /** Resolves when every delivery started so far has succeeded or failed. */
  settled(): Promise<void>;
}

const { optionalString, requiredString, optionalStringList, integerIn, invalid } =
  fieldReaders("ValidationException");

/** A field the stand-in would otherwise ignore changes what AWS does: refused by name instead. */
function refuseUnsupported(input: JsonObject, operation: string, supported: readonly string[]) {
  for (const field of Object.keys(input)) {
    if (!supported.includes(field)) {
      throw invalid(`The EventBridge stand-in does not support ${field} in ${operation}.`);
    }
  }
}

/** One page of a listing: NextToken is where the next page starts. */
function pageOf<T>(items: readonly T[], input: JsonObject): { page: T[]; NextToken?: string } {
  const limit = integerIn(input, "Limit", { min: 1, max: 100, fallback: 100 });
  const token = optionalString(input, "NextToken");
  const start = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw invalid("The NextToken is not valid.");
  }
  const end = start + limit;
  return {
    page: items.slice(start, end),
    ...(end < items.length ? { NextToken: String(end) } : {}),
  };
}

function ruleResponse(rule: Rule): JsonObject {
  return {
    Name: rule.name,
    Arn: rule.arn,
    EventPattern: rule.eventPattern,
    State: rule.state,
    ...(rule.description === undefined ? {} : { Description: rule.description }),
    EventBusName: rule.bus,
  };
}

/** TestEventPattern wants a whole event: these fields at least, as AWS checks. */
const EVENT_FIELDS = ["id", "account", "source", "time", "region", "detail-type"];

function testEventOf(text: string): JsonObject {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw invalid("Parameter Event is not valid.");
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw invalid("Parameter Event is not valid.");
  }
  if (!EVENT_FIELDS.every((field) => Object.hasOwn(event, field))) {
    throw invalid("Parameter Event is not valid.");
  }
  return event as JsonObject;
}

class StandInServer implements EventBridgeStandIn {
  readonly #region: string;
  readonly #buses: EventBuses;
  readonly #delivery: SqsDelivery | undefined;
  readonly #service: JsonService;
  readonly #published: PublishedEvent[] = [];
  readonly #dropped: PublishedEvent[] = [];
  readonly #requests: string[] = [];
  /** Error codes for the next entries that would be accepted, in order. */
  readonly #entryFailures: string[] = [];

  constructor(options: EventBridgeStandInOptions) {
    this.#region = options.region ?? "us-east-1";
    this.#buses = new EventBuses(this.#region, ACCOUNT_ID);
    for (const name of options.eventBuses ?? []) this.#buses.create(name, undefined);
    this.#delivery =
      options.sqsEndpoint === undefined ? undefined : new SqsDelivery(options.sqsEndpoint);
    this.#service = new JsonService({
      name: "EventBridge",
      targetPrefix: "AWSEvents.",
      operations: this.#operations(),
      internalErrorType: "InternalException",
      onRequest: ({ operation }) => this.#requests.push(operation),
    });
  }

  listen(host: string, port: number): Promise<void> {
    return this.#service.listen(host, port);
  }

  get url(): string {
    return this.#service.url;
  }

  async close(): Promise<void> {
    await this.#service.close();
    await this.#delivery?.close();
  }

  get published(): PublishedEvent[] {
    return [...this.#published];
  }

  get dropped(): PublishedEvent[] {
    return [...this.#dropped];
  }

  get delivered(): Delivery[] {
    return this.#delivery?.delivered ?? [];
  }

  get deliveryFailures(): DeliveryFailure[] {
    return this.#delivery?.failures ?? [];
  }

  get requests(): string[] {
    return [...this.#requests];
  }

  failNext(operation: string, errorType: string, count = 1): void {
    this.#service.failNext(operation, errorType, count);
  }

  failEntriesNext(count: number, errorCode = "InternalFailure"): void {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError("count must be a positive integer");
    }
    this.#entryFailures.push(...Array.from({ length: count }, () => errorCode));
  }

  async settled(): Promise<void> {
    await this.#delivery?.settled();
  }

  #operations(): Record<string, Operation> {
    const buses = this.#buses;
    return {
      PutEvents: (input) => {
        refuseUnsupported(input, "PutEvents", ["Entries"]);
        const results = requestEntries(input).map((entry) => this.#putEntry(entry));
        return {
          FailedEntryCount: results.filter((result) => "ErrorCode" in result).length,
          Entries: results,
        };
      },
      CreateEventBus: (input) => {
        refuseUnsupported(input, "CreateEventBus", ["Name", "Description", "Tags"]);
        const description = optionalString(input, "Description");
        const bus = buses.create(requiredString(input, "Name"), description);
        return {
          EventBusArn: bus.arn,
          ...(description === undefined ? {} : { Description: description }),
        };
      },
      DescribeEventBus: (input) => {
        const bus = buses.get(optionalString(input, "Name"));
        const createdAt = bus.createdAt / 1000;
        return {
          Name: bus.name,
          Arn: bus.arn,
          ...(bus.description === undefined ? {} : { Description: bus.description }),
          CreationTime: createdAt,
          LastModifiedTime: createdAt,
        };
      },
      PutRule: (input) => {
        refuseUnsupported(input, "PutRule", [
          "Name",
          "EventBusName",
          "EventPattern",
          "State",
          "Description",
          "RoleArn",
          "Tags",
        ]);
        const eventPattern = optionalString(input, "EventPattern");
        if (eventPattern === undefined) {
          throw invalid("Parameter(s) EventPattern or ScheduleExpression must be specified.");
        }
        const rule = buses.putRule(optionalString(input, "EventBusName"), {
          name: requiredString(input, "Name"),
          eventPattern,
          state: optionalString(input, "State"),
          description: optionalString(input, "Description"),
        });
        return { RuleArn: rule.arn };
      },
      DeleteRule: (input) => {
        buses.deleteRule(optionalString(input, "EventBusName"), requiredString(input, "Name"));
        return {};
      },
      ListRules: (input) => {
        const bus = buses.get(optionalString(input, "EventBusName"));
        const prefix = optionalString(input, "NamePrefix") ?? "";
        const rules = [...bus.rules.values()].filter((rule) => rule.name.startsWith(prefix));
        const { page, ...next } = pageOf(rules, input);
        return { Rules: page.map(ruleResponse), ...next };
      },
      PutTargets: (input) => {
        const rule = buses.rule(
          optionalString(input, "EventBusName"),
          requiredString(input, "Rule"),
        );
        const targets = input.Targets;
        if (!Array.isArray(targets) || targets.length < 1 || targets.length > 10) {
          throw invalid("Targets must be a list of 1 to 10 targets.");
        }
        if (this.#delivery === undefined) {
          throw invalid(
            "The EventBridge stand-in was started without sqsEndpoint, so it cannot deliver to any target.",
          );
        }
        buses.putTargets(
          rule,
          targets.map((target, index) => sqsTargetOf(target, index + 1)),
        );
        return { FailedEntryCount: 0, FailedEntries: [] };
      },
      RemoveTargets: (input) => {
        const rule = buses.rule(
          optionalString(input, "EventBusName"),
          requiredString(input, "Rule"),
        );
        const ids = optionalStringList(input, "Ids") ?? [];
        if (ids.length === 0) throw invalid("You must specify Ids.");
        const failed = ids
          .filter((id) => !rule.targets.delete(id))
          .map((id) => ({
            TargetId: id,
            ErrorCode: "ResourceNotFoundException",
            ErrorMessage: `Rule '${rule.name}' does not have a target with the Id '${id}'.`,
          }));
        return { FailedEntryCount: failed.length, FailedEntries: failed };
      },
      ListTargetsByRule: (input) => {
        const rule = buses.rule(
          optionalString(input, "EventBusName"),
          requiredString(input, "Rule"),
        );
        const { page, ...next } = pageOf([...rule.targets.values()], input);
        return { Targets: page.map(targetResponse), ...next };
      },
      TestEventPattern: (input) => {
        const pattern = parseEventPattern(requiredString(input, "EventPattern"));
        return { Result: matchesPattern(pattern, testEventOf(requiredString(input, "Event"))) };
      },
    };
  }

  /** One entry's answer: its failure, or its EventId once it is recorded and routed. */
  #putEntry(entry: RequestEntry): EntryFailure | { EventId: string } {
    const checked = detailOf(entry);
    if ("failure" in checked) return checked.failure;
    const injected = this.#entryFailures.shift();
    if (injected !== undefined) {
      return {
        ErrorCode: injected,
        ErrorMessage: `${injected} injected by the stand-in (failEntriesNext).`,
      };
    }
    const event = envelopeOf(entry, checked.detail, {
      region: this.#region,
      accountId: ACCOUNT_ID,
    });
    const published: PublishedEvent = {
      id: event.id,
      bus: entry.eventBusName ?? DEFAULT_BUS,
      source: event.source,
      detailType: event["detail-type"],
      detail: event.detail,
      time: event.time,
      resources: event.resources,
    };
    this.#published.push(published);
    const bus = this.#buses.find(entry.eventBusName);
    if (bus === undefined) {
      this.#dropped.push(published);
      console.warn(
        `EventBridge stand-in: event ${event.id} dropped: event bus ${published.bus} does not exist (AWS drops it too, and answers with an EventId)`,
      );
    } else {
      for (const rule of bus.rules.values()) this.#route(event, rule);
    }
    return { EventId: event.id };
  }

  #route(event: EventEnvelope, rule: Rule): void {
    if (rule.state === "DISABLED" || !matchesPattern(rule.pattern, event)) return;
    for (const target of rule.targets.values()) {
      this.#delivery?.deliver({ eventId: event.id, rule: rule.name, target }, () =>
        messageBodyOf(target, event),
      );
    }
  }
}

export async function startEventBridgeStandIn(
  options: EventBridgeStandInOptions = {},
): Promise<EventBridgeStandIn> {
  const standIn = new StandInServer(options);
  await standIn.listen(options.host ?? "127.0.0.1", options.port ?? 0);
  return standIn;
}
