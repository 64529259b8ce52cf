// A rule's targets as PutTargets gives them, and the message body each one receives for an event.
import { type JsonObject, ServiceError } from "../aws-json/wire.ts";

export interface SqsTarget {
  readonly id: string;
  readonly arn: string;
  readonly queueName: string;
  /** JSON sent instead of the event. */
  readonly input: string | undefined;
  /** `$` or `$.a.b`: the part of the event sent. */
  readonly inputPath: string | undefined;
}

const TARGET_ID = /^[.\-_A-Za-z0-9]{1,64}$/;
const STANDARD_QUEUE_ARN = /^arn:aws:sqs:[a-z0-9-]+:\d{12}:([A-Za-z0-9_-]{1,80})$/;
const SIMPLE_INPUT_PATH = /^\$(\.[A-Za-z0-9_-]+)*$/;
const SUPPORTED_FIELDS = new Set(["Id", "Arn", "Input", "InputPath"]);
const SUPPORTED = "a standard SQS queue's ARN, with Input or an InputPath of the form $.a.b";

function validation(message: string): ServiceError {
  return new ServiceError("ValidationException", message);
}

function optionalText(target: JsonObject, key: string, position: string): string | undefined {
  const value = target[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw validation(`${position}.${key} must be a string.`);
  return value;
}

/** One of PutTargets' Targets (position from 1), or a ValidationException saying what is not so. */
export function sqsTargetOf(value: unknown, position: number): SqsTarget {
  const where = `targets.${position}.member`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw validation(`${where} must be an object.`);
  }
  const target = value as JsonObject;
  for (const field of Object.keys(target)) {
    if (!SUPPORTED_FIELDS.has(field)) {
      throw validation(
        `The EventBridge stand-in does not support ${field} on a target: it takes ${SUPPORTED}.`,
      );
    }
  }
  const id = optionalText(target, "Id", where) ?? "";
  if (!TARGET_ID.test(id)) {
    throw validation(
      `1 validation error detected: Value '${id}' at '${where}.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ (1 to 64 characters)`,
    );
  }
  const arn = optionalText(target, "Arn", where) ?? "";
  const queueName = STANDARD_QUEUE_ARN.exec(arn)?.[1];
  if (queueName === undefined) {
    throw validation(
      `The EventBridge stand-in cannot deliver to ${JSON.stringify(arn)}: it takes ${SUPPORTED}.`,
    );
  }
  const input = optionalText(target, "Input", where);
  const inputPath = optionalText(target, "InputPath", where);
  if (input !== undefined && inputPath !== undefined) {
    throw validation("Only one of Input, InputPath, or InputTransformer must be provided.");
  }
  if (input !== undefined) {
    try {
      JSON.parse(input);
    } catch {
      throw validation(`Input of target ${id} is not valid JSON.`);
    }
  }
  if (inputPath !== undefined && !SIMPLE_INPUT_PATH.test(inputPath)) {
    throw validation(
      `The EventBridge stand-in does not support the InputPath ${inputPath}: it takes ${SUPPORTED}.`,
    );
  }
  return { id, arn, queueName, input, inputPath };
}

/** The target as ListTargetsByRule answers it: the fields it was put with. */
export function targetResponse(target: SqsTarget): JsonObject {
  return {
    Id: target.id,
    Arn: target.arn,
    ...(target.input === undefined ? {} : { Input: target.input }),
    ...(target.inputPath === undefined ? {} : { InputPath: target.inputPath }),
  };
}

/** What the target's queue receives: the whole event, its Input, or the part its InputPath names. */
export function messageBodyOf(target: SqsTarget, event: JsonObject): string {
  if (target.input !== undefined) return target.input;
  if (target.inputPath === undefined) return JSON.stringify(event);
  let selected: unknown = event;
  for (const key of target.inputPath.split(".").slice(1)) {
    selected =
      typeof selected === "object" && selected !== null && Object.hasOwn(selected, key)
        ? (selected as JsonObject)[key]
        : undefined;
  }
  if (selected === undefined) {
    throw new Error(`InputPath ${target.inputPath} selects nothing in event ${String(event.id)}`);
  }
  return JSON.stringify(selected);
}
