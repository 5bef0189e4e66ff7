// The supervisor is several C files compiled into one binary: the base
// image's Dockerfile must copy and compile each of them, and each must be
// there to be hashed into the image's inputs.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import {
  dockerfilePath,
  SUPERVISOR_SOURCES,
  supervisorSourcePath,
} from "../../src/images/paths.js";

const dockerfile = readFileSync(dockerfilePath("base.Dockerfile"), "utf8");

test("every supervisor source is shipped in sandbox/", () => {
  for (const name of SUPERVISOR_SOURCES) assert.ok(existsSync(supervisorSourcePath(name)), name);
});

test("the base image copies every supervisor source and compiles every .c file of them", () => {
  const copy = /^COPY ((?:\S+ )+)\/src\/$/m.exec(dockerfile);
  assert.ok(copy, "a COPY of the supervisor's sources into /src/");
  assert.deepEqual(copy[1]?.trim().split(" "), [...SUPERVISOR_SOURCES]);
  const gcc = /^RUN gcc .*-o \/isol8-supervisor ((?:\/src\/\S+\.c ?)+)/m.exec(dockerfile);
  assert.ok(gcc, "a gcc line building /isol8-supervisor");
  assert.deepEqual(
    gcc[1]?.trim().split(" "),
    SUPERVISOR_SOURCES.filter((name) => name.endsWith(".c")).map((name) => `/src/${name}`),
  );
});

test("every header the supervisor's C files include from sandbox/ is one of its sources", () => {
  for (const name of SUPERVISOR_SOURCES) {
    const text = readFileSync(supervisorSourcePath(name), "utf8");
    for (const [, header] of text.matchAll(/^#include "([^"]+)"/gm))
      assert.ok(
        (SUPERVISOR_SOURCES as readonly string[]).includes(header ?? ""),
        `${name}: ${header}`,
      );
  }
});
