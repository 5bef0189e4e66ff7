import assert from "node:assert/strict";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

/** An OpenAPI 3.1 document, as far as these checks read it. */
export interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<
          string,
          { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }
        >;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
}

/** Escapes one JSON Pointer segment. */
const pointer = (segment: string) => segment.replaceAll("~", "~0").replaceAll("/", "~1");

/**
 * Checks answers against the document the server serves: the status must be
 * one the operation declares, with the headers and content type it names,
 * and a JSON body must match the schema the
 * document gives for that status (OpenAPI 3.1 schemas are JSON Schema
 * 2020-12, so ajv reads them as they are, `$ref`s into the components
 * included).
 */
export function documentChecker(document: OpenApiDocument) {
  // Formats are not what the document is checked for here; the shapes are.
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(document as object, "openapi.json");
  const compiled = new Map<string, ValidateFunction>();
  const validator = (ref: string) => {
    let validate = compiled.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: `openapi.json#${ref}` });
      compiled.set(ref, validate);
    }
    return validate;
  };
  /** Validates `value` against the schema at `ref` (a JSON Pointer into the document). */
  const matches = (ref: string, value: unknown, what: string) => {
    const validate = validator(ref);
    assert.ok(
      validate(value),
      `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`,
    );
  };
  return {
    /**
     * The answer's JSON body, after checking the answer against the operation
     * `method` `path` (the document's path template, e.g. `/session/{id}`).
     */
    async answer(method: string, path: string, response: Response): Promise<unknown> {
      const what = `${method.toUpperCase()} ${path} ${response.status}`;
      const operation = document.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is not in the document`);
      const declared = operation.responses[String(response.status)];
      assert.ok(declared, `${what}: the document does not declare this status`);
      for (const header of Object.keys(declared.headers ?? {}))
        assert.ok(response.headers.has(header), `${what}: no ${header} header`);
      const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
      assert.ok(
        declared.content?.[type],
        `${what}: answered ${type}, the document says ${Object.keys(declared.content ?? {})}`,
      );
      if (type !== "application/json") return await response.text();
      const body: unknown = await response.json();
      const ref = `/paths/${pointer(path)}/${method}/responses/${response.status}/content/${pointer(type)}/schema`;
      matches(ref, body, what);
      return body;
    },
    /** Checks `value` against the component schema `name`. */
    component(name: string, value: unknown): void {
      matches(`/components/schemas/${pointer(name)}`, value, name);
    },
  };
}
