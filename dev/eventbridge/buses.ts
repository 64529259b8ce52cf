// EventBridge's state: event buses, their rules and the rules' targets, with the service's rules.
import { ServiceError } from "../aws-json/wire.ts";
import { type EventPattern, parseEventPattern } from "./pattern.ts";
import type { SqsTarget } from "./targets.ts";

export const DEFAULT_BUS = "default";
/** AWS's limit on the targets of one rule. */
const MAX_TARGETS_PER_RULE = 5;
const BUS_NAME = /^[A-Za-z0-9._-]{1,256}$/;
const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
const RULE_STATES = ["ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"];

export interface Rule {
  readonly name: string;
  readonly arn: string;
  readonly bus: string;
  readonly eventPattern: string;
  readonly pattern: EventPattern;
  readonly state: string;
  readonly description: string | undefined;
  /** Id → target, in the order they were put. */
  readonly targets: Map<string, SqsTarget>;
}

export interface RuleDefinition {
  readonly name: string;
  readonly eventPattern: string;
  readonly state: string | undefined;
  readonly description: string | undefined;
}

interface EventBus {
  readonly name: string;
  readonly arn: string;
  readonly description: string | undefined;
  readonly createdAt: number;
  /** Name → rule, in creation order. */
  readonly rules: Map<string, Rule>;
}

function validation(message: string): ServiceError {
  return new ServiceError("ValidationException", message);
}

/** The buses of one account in one region; the default bus always exists. */
export class EventBuses {
  readonly #region: string;
  readonly #accountId: string;
  readonly #buses = new Map<string, EventBus>();

  constructor(region: string, accountId: string) {
    this.#region = region;
    this.#accountId = accountId;
    this.#add(DEFAULT_BUS, undefined);
  }

  /** The bus a name or an ARN names, if it is one of this account's in this region. */
  find(nameOrArn: string | undefined): EventBus | undefined {
    const name = nameOrArn ?? DEFAULT_BUS;
    const prefix = `arn:aws:events:${this.#region}:${this.#accountId}:event-bus/`;
    if (name.startsWith("arn:")) {
      return name.startsWith(prefix) ? this.#buses.get(name.slice(prefix.length)) : undefined;
    }
    return this.#buses.get(name);
  }

  /** As `find`, for the operations that refuse an unknown bus. */
  get(nameOrArn: string | undefined): EventBus {
    const bus = this.find(nameOrArn);
    if (bus === undefined) {
      throw new ServiceError(
        "ResourceNotFoundException",
        `Event bus ${nameOrArn ?? DEFAULT_BUS} does not exist.`,
      );
    }
    return bus;
  }

  create(name: string, description: string | undefined): EventBus {
    if (!BUS_NAME.test(name)) {
      throw validation(
        `Event bus name ${name} is not valid: 1 to 256 of A-Z a-z 0-9 . _ - (the stand-in has no partner buses).`,
      );
    }
    if (this.#buses.has(name)) {
      throw new ServiceError("ResourceAlreadyExistsException", `Event bus ${name} already exists.`);
    }
    return this.#add(name, description);
  }

  /** Creates the rule or replaces its definition; its targets stay, as PutRule keeps them. */
  putRule(busNameOrArn: string | undefined, definition: RuleDefinition): Rule {
    const bus = this.get(busNameOrArn);
    if (!RULE_NAME.test(definition.name)) {
      throw validation(
        `1 validation error detected: Value '${definition.name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ (1 to 64 characters)`,
      );
    }
    const state = definition.state ?? "ENABLED";
    if (!RULE_STATES.includes(state)) {
      throw validation(
        `1 validation error detected: Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [${RULE_STATES.join(", ")}]`,
      );
    }
    const pattern = parseEventPattern(definition.eventPattern);
    const path = bus.name === DEFAULT_BUS ? definition.name : `${bus.name}/${definition.name}`;
    const rule: Rule = {
      name: definition.name,
      arn: `arn:aws:events:${this.#region}:${this.#accountId}:rule/${path}`,
      bus: bus.name,
      eventPattern: definition.eventPattern,
      pattern,
      state,
      description: definition.description,
      targets: bus.rules.get(definition.name)?.targets ?? new Map(),
    };
    bus.rules.set(rule.name, rule);
    return rule;
  }

  /** An unknown rule is no error: the rule is gone either way. */
  deleteRule(busNameOrArn: string | undefined, name: string): void {
    const bus = this.get(busNameOrArn);
    const rule = bus.rules.get(name);
    if (rule === undefined) return;
    if (rule.targets.size > 0) throw validation("Rule can't be deleted since it has targets.");
    bus.rules.delete(name);
  }

  rule(busNameOrArn: string | undefined, name: string): Rule {
    const bus = this.get(busNameOrArn);
    const rule = bus.rules.get(name);
    if (rule === undefined) {
      throw new ServiceError(
        "ResourceNotFoundException",
        `Rule ${name} does not exist on EventBus ${bus.name}.`,
      );
    }
    return rule;
  }

  /** Adds the targets or replaces those with the same ids, within AWS's limit per rule. */
  putTargets(rule: Rule, targets: readonly SqsTarget[]): void {
    const ids = new Set([...rule.targets.keys(), ...targets.map((target) => target.id)]);
    if (ids.size > MAX_TARGETS_PER_RULE) {
      throw new ServiceError(
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
      );
    }
    for (const target of targets) rule.targets.set(target.id, target);
  }

  #add(name: string, description: string | undefined): EventBus {
    const bus: EventBus = {
      name,
      arn: `arn:aws:events:${this.#region}:${this.#accountId}:event-bus/${name}`,
      description,
      createdAt: Date.now(),
      rules: new Map(),
    };
    this.#buses.set(name, bus);
    return bus;
  }
}
