import { HttpError } from "./errors.js";

/** Deepest nesting of arrays and objects a client's JSON may have (requests need fewer than ten). */
export const MAX_JSON_DEPTH = 64;
/**
 * Most values (strings, containers, and elements after a comma) a client's
 * JSON may hold: a request with the most files the engine takes (4000) and
 * their names needs about 8000.
 */
export const MAX_JSON_VALUES = 100_000;

/**
 * Parses a client's JSON text after a scan of its raw characters has shown
 * that it nests no deeper than MAX_JSON_DEPTH and holds no more than
 * MAX_JSON_VALUES values. JSON.parse builds an object for every array and
 * object it reads, so a 10 MB body of `[[[[...` or `[{},{},...` used to cost
 * the server 25 times its size before validation could refuse it; the scan
 * costs nothing but one pass. `field` names the input in the 400.
 */
export function parseBoundedJson(text: string, field: string): unknown {
  const problem = jsonShapeProblem(text);
  if (problem) throw new HttpError(400, `${field}: ${problem}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, `${field}: not valid JSON`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** Why `text` is too deep or too large to parse, or undefined. Syntax is left to JSON.parse. */
export function jsonShapeProblem(text: string): string | undefined {
  let depth = 0;
  let values = 0;
  let inString = false;
  // Stryker disable next-line EqualityOperator: one step past the end reads NaN, which is no character.
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      values += 1;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth += 1;
      values += 1;
      if (depth > MAX_JSON_DEPTH) return `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth -= 1;
    } else if (c === COMMA) {
      values += 1;
    } else continue;
    if (values > MAX_JSON_VALUES) return `JSON holds more than ${MAX_JSON_VALUES} values`;
  }
  return undefined;
}
