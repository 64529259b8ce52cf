import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** The published JSON Schema of event contract v1, as producers would load it. */
export const schemaFile = new URL("../../schemas/reset-event.v1.schema.json", import.meta.url);

export function readSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaFile, "utf8")) as Record<string, unknown>;
}

/** Compiles the schema the strict way: any keyword ajv does not understand fails here. */
export function compileSchema(): (event: unknown) => boolean {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const validate = ajv.compile(readSchema());
  return (event) => validate(event) === true;
}

/** The schema's verdict on an event, compiled once per test file. */
export const schemaAccepts = compileSchema();
