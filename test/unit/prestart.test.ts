import assert from "node:assert/strict";
import { test } from "node:test";
import { mayUsePrestart, prestartSpec } from "../../src/engine/prestart.js";
import {
  encodePrestart,
  encodeRun,
  FrameDecoder,
  supervisorVersion,
} from "../../src/engine/protocol.js";
import { runtimeAdapter } from "../../src/runtimes/index.js";
import { BASE_ENV } from "../../src/sandbox-layout.js";

function fields(frame: Buffer): { type: string | undefined; fields: [string, string][] } {
  const [decoded] = new FrameDecoder().push(frame);
  const body = decoded?.payload ?? Buffer.alloc(0);
  const out: [string, string][] = [];
  for (let o = 0; o < body.length; ) {
    const len = body.readUInt32BE(o + 1);
    out.push([
      String.fromCharCode(body[o] as number),
      body.subarray(o + 5, o + 5 + len).toString(),
    ]);
    o += 5 + len;
  }
  return { type: decoded?.type, fields: out };
}

test("a prestart frame carries the bootstrap's argv, env and working directory only", () => {
  const frame = encodePrestart({
    argv: ["python3", "/usr/local/lib/isol8/python.py"],
    env: { PATH: "/usr/bin", PYTHONUNBUFFERED: "1" },
    workdir: "/sandbox",
  });
  assert.deepEqual(fields(frame), {
    type: "P",
    fields: [
      ["a", "python3"],
      ["a", "/usr/local/lib/isol8/python.py"],
      ["e", "PATH=/usr/bin"],
      ["e", "PYTHONUNBUFFERED=1"],
      ["w", "/sandbox"],
    ],
  });
});

test("a run that may use the prestarted interpreter carries an empty 'p' field", () => {
  const spec = {
    argv: ["python3", "/sandbox/main.py"],
    env: {},
    workdir: "/sandbox",
    files: [],
    timeoutMs: 1000,
    outputLimit: 10,
  };
  const tags = (frame: Buffer) => fields(frame).fields.map(([tag]) => tag);
  assert.deepEqual(tags(encodeRun(spec)), ["a", "a", "w", "t", "o"]);
  assert.deepEqual(tags(encodeRun({ ...spec, prestarted: true })), ["a", "a", "w", "t", "o", "p"]);
  assert.equal(fields(encodeRun({ ...spec, prestarted: true })).fields.at(-1)?.[1], "");
});

test("the supervisor's version comes from its hello", () => {
  assert.equal(supervisorVersion(Buffer.from("isol8-supervisor 2")), 2);
  assert.equal(supervisorVersion(Buffer.from("isol8-supervisor 1")), 1);
  assert.equal(supervisorVersion(Buffer.from("something else")), 0);
});

test("python and node prestart with the fixed environment only; bash does not prestart", () => {
  const python = prestartSpec(runtimeAdapter("python"));
  assert.deepEqual(python, {
    argv: ["python3", "/usr/local/lib/isol8/python.py"],
    env: { ...BASE_ENV, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    workdir: "/sandbox",
  });
  assert.equal(python?.argv[0], runtimeAdapter("python").command("/sandbox/main.py")[0]);
  assert.deepEqual(prestartSpec(runtimeAdapter("node"))?.env, BASE_ENV);
  assert.equal(prestartSpec(runtimeAdapter("bash")), undefined);
});

test("variables read at interpreter start-up send a run to a fresh interpreter", () => {
  const python = runtimeAdapter("python");
  const node = runtimeAdapter("node");
  const pythonEnv = { ...BASE_ENV, ...python.env };
  assert.equal(mayUsePrestart(python, pythonEnv), true);
  assert.equal(mayUsePrestart(python, { ...pythonEnv, FOO: "1", TMPDIR: "/tmp/x" }), true);
  const pythonStartup: Record<string, string>[] = [
    { PYTHONPATH: "/x" },
    { PYTHONHASHSEED: "0" },
    { PYTHONUNBUFFERED: "0" },
    { LC_ALL: "C" },
    { LANG: "en_US.UTF-8" },
    { HOME: "/tmp" },
    { PATH: "/bin" },
    { LD_PRELOAD: "/x.so" },
    { MALLOC_ARENA_MAX: "1" },
  ];
  for (const extra of pythonStartup) {
    assert.equal(mayUsePrestart(python, { ...pythonEnv, ...extra }), false, JSON.stringify(extra));
  }
  const { PYTHONDONTWRITEBYTECODE: _, ...withoutOne } = pythonEnv;
  assert.equal(mayUsePrestart(python, withoutOne), false, "a bootstrap variable removed");
  assert.equal(mayUsePrestart(node, { ...BASE_ENV, FOO: "1" }), true);
  assert.equal(mayUsePrestart(node, { ...BASE_ENV, PYTHONPATH: "/x" }), true);
  const nodeStartup: Record<string, string>[] = [
    { NODE_OPTIONS: "--x" },
    { NODE_PATH: "/x" },
    { UV_THREADPOOL_SIZE: "1" },
  ];
  for (const extra of nodeStartup) {
    assert.equal(mayUsePrestart(node, { ...BASE_ENV, ...extra }), false, JSON.stringify(extra));
  }
  assert.equal(mayUsePrestart(runtimeAdapter("bash"), BASE_ENV), false);
});
