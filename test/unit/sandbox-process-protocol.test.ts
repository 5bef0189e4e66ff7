// The frames of a long-lived sandbox's processes (src/sandbox/process-protocol.ts):
// what the engine sends, read back field by field as sandbox/processes.c reads
// it, and what the supervisor sends, built byte by byte as processes.c writes
// it and decoded. A frame that does not parse is a ProcessFrameError.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { encodeFrame, FrameDecoder } from "../../src/engine/protocol.js";
import {
  decodeProcessFrame,
  encodeCredit,
  encodeResize,
  encodeSignal,
  encodeStart,
  encodeStdin,
  encodeStdinEnd,
  FROM_PROCESSES,
  isProcessFrame,
  ProcessFrameError,
  STDIN_CHUNK,
  STDIN_WINDOW,
  TO_PROCESSES,
} from "../../src/sandbox/process-protocol.js";

/** One frame from `wire`, which must hold exactly one. */
function onlyFrame(wire: Buffer): { type: string; payload: Buffer } {
  const frames = new FrameDecoder().push(wire);
  assert.equal(frames.length, 1);
  const [frame] = frames;
  assert.ok(frame);
  const header = 5 + frame.payload.length;
  assert.equal(wire.length, header, "nothing after the frame");
  return frame;
}

/** A start request's fields, read as processes.c's next_field reads them: tag, BE32 length, bytes. */
function startFields(payload: Buffer): { id: number; fields: [string, string][] } {
  const id = payload.readUInt32BE(0);
  const fields: [string, string][] = [];
  let offset = 4;
  while (offset < payload.length) {
    const tag = String.fromCharCode(payload[offset] as number);
    const length = payload.readUInt32BE(offset + 1);
    const value = payload.subarray(offset + 5, offset + 5 + length);
    assert.equal(value.length, length, `field '${tag}' runs past the payload`);
    fields.push([tag, value.toString()]);
    offset += 5 + length;
  }
  return { id, fields };
}

/** A supervisor frame's payload: the 4-byte id, then `rest`. */
function withId(id: number, ...rest: Buffer[]): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(id);
  return Buffer.concat([head, ...rest]);
}

function be32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

test("a start request carries the id, every argument, variable, the cwd and the timeout, in order", () => {
  const frame = onlyFrame(
    encodeStart(7, {
      argv: ["/bin/bash", "-c", "echo 'ä b' $X", ""],
      env: { X: "a=b", EMPTY: "" },
      cwd: "/sandbox/work dir",
      timeoutMs: 1500,
    }),
  );
  assert.equal(frame.type, TO_PROCESSES.start);
  assert.deepEqual(startFields(frame.payload), {
    id: 7,
    fields: [
      ["a", "/bin/bash"],
      ["a", "-c"],
      ["a", "echo 'ä b' $X"],
      ["a", ""],
      ["e", "X=a=b"],
      ["e", "EMPTY="],
      ["w", "/sandbox/work dir"],
      ["t", "1500"],
    ],
  });
});

test("a start request on a terminal adds its size as 'cols rows'; without one there is no 'y' field", () => {
  const spec = { argv: ["cat"], env: {}, cwd: "/sandbox", timeoutMs: 0 };
  const onTerminal = startFields(
    onlyFrame(encodeStart(2, { ...spec, terminal: { cols: 120, rows: 40 } })).payload,
  );
  assert.deepEqual(onTerminal.fields, [
    ["a", "cat"],
    ["w", "/sandbox"],
    ["t", "0"],
    ["y", "120 40"],
  ]);
  const onPipes = startFields(onlyFrame(encodeStart(2, spec)).payload);
  assert.deepEqual(onPipes.fields, [
    ["a", "cat"],
    ["w", "/sandbox"],
    ["t", "0"],
  ]);
});

test("a field's length counts bytes, not characters", () => {
  const { fields } = startFields(
    onlyFrame(encodeStart(1, { argv: ["€😀"], env: {}, cwd: "/", timeoutMs: 0 })).payload,
  );
  assert.deepEqual(fields[0], ["a", "€😀"]);
});

test("ids are unsigned 32-bit, big-endian, in every frame the engine sends", () => {
  const id = 0xfedcba98;
  const frames = [
    encodeStart(id, { argv: ["x"], env: {}, cwd: "/", timeoutMs: 0 }),
    encodeStdin(id, Buffer.from("x")),
    encodeStdinEnd(id),
    encodeSignal(id, 9),
    encodeResize(id, { cols: 1, rows: 1 }),
    encodeCredit(id, 1),
  ];
  for (const wire of frames)
    assert.deepEqual([...onlyFrame(wire).payload.subarray(0, 4)], [0xfe, 0xdc, 0xba, 0x98]);
});

test("stdin, its end, a signal, a resize and a credit are the bytes processes.c reads", () => {
  const stdin = onlyFrame(encodeStdin(3, Buffer.from([0, 1, 255])));
  assert.deepEqual(
    { type: stdin.type, payload: [...stdin.payload] },
    { type: TO_PROCESSES.stdin, payload: [0, 0, 0, 3, 0, 1, 255] },
  );
  const end = onlyFrame(encodeStdinEnd(3));
  assert.deepEqual(
    { type: end.type, payload: [...end.payload] },
    { type: TO_PROCESSES.stdinEnd, payload: [0, 0, 0, 3] },
  );
  const signal = onlyFrame(encodeSignal(3, 15));
  assert.deepEqual(
    {
      type: signal.type,
      id: signal.payload.readUInt32BE(0),
      rest: signal.payload.toString("latin1", 4),
    },
    { type: TO_PROCESSES.signal, id: 3, rest: "15" },
  );
  const resize = onlyFrame(encodeResize(3, { cols: 80, rows: 24 }));
  assert.deepEqual(
    {
      type: resize.type,
      id: resize.payload.readUInt32BE(0),
      rest: resize.payload.toString("latin1", 4),
    },
    { type: TO_PROCESSES.resize, id: 3, rest: "80 24" },
  );
  const credit = onlyFrame(encodeCredit(3, 256 * 1024));
  assert.deepEqual(
    { type: credit.type, payload: [...credit.payload] },
    { type: TO_PROCESSES.credit, payload: [0, 0, 0, 3, 0, 4, 0, 0] },
  );
});

test("started: the id and pid; pid 0 is a refusal with its reason, or 'unknown reason' without one", () => {
  assert.deepEqual(decodeProcessFrame("n", withId(5, be32(4321))), {
    kind: "started",
    id: 5,
    pid: 4321,
  });
  assert.deepEqual(
    decodeProcessFrame("n", withId(5, be32(0), Buffer.from("Resource temporarily unavailable"))),
    { kind: "refused", id: 5, reason: "Resource temporarily unavailable" },
  );
  assert.deepEqual(decodeProcessFrame("n", withId(5, be32(0))), {
    kind: "refused",
    id: 5,
    reason: "unknown reason",
  });
});

test("output: '1' is stdout, '2' stderr, and the bytes after the stream byte are the data as sent", () => {
  const bytes = Buffer.from([0, 10, 255, 0x32]);
  const stdout = decodeProcessFrame("O", withId(9, Buffer.from("1"), bytes));
  assert.deepEqual(stdout.kind === "output" && [stdout.id, stdout.stream, [...stdout.data]], [
    9,
    "stdout",
    [...bytes],
  ]);
  const stderr = decodeProcessFrame("O", withId(9, Buffer.from("2"), bytes));
  assert.deepEqual(stderr.kind === "output" && [stderr.stream, [...stderr.data]], [
    "stderr",
    [...bytes],
  ]);
  const empty = decodeProcessFrame("O", withId(9, Buffer.from("1")));
  assert.deepEqual(empty.kind === "output" && [...empty.data], []);
});

test("stdin taken: the id and the count", () => {
  assert.deepEqual(decodeProcessFrame("j", withId(2, be32(65536))), {
    kind: "stdinTaken",
    id: 2,
    bytes: 65536,
  });
});

test("exited: the report's lines as processes.c prints them", () => {
  const report = "exit=3\nsignal=0\ntimeout=0\ncpu_us=12345\nmax_rss_kb=2048\nwall_us=99000\n";
  assert.deepEqual(decodeProcessFrame("x", withId(4, Buffer.from(report))), {
    kind: "exited",
    id: 4,
    exit: {
      exitCode: 3,
      signal: 0,
      timedOut: false,
      cpuMicros: 12345,
      maxRssBytes: 2048 * 1024,
      wallMicros: 99000,
    },
  });
  const killed = decodeProcessFrame(
    "x",
    withId(4, Buffer.from("exit=137\nsignal=9\ntimeout=1\ncpu_us=1\nmax_rss_kb=1\nwall_us=1\n")),
  );
  assert.deepEqual(killed.kind === "exited" && killed.exit, {
    exitCode: 137,
    signal: 9,
    timedOut: true,
    cpuMicros: 1,
    maxRssBytes: 1024,
    wallMicros: 1,
  });
});

test("exited: a missing, empty or unreadable value is 0, and an unknown key is ignored", () => {
  const event = decodeProcessFrame(
    "x",
    withId(4, Buffer.from("exit=\nsignal=nine\ncolour=blue\n=5\ncpu_us=Infinity\nwall_us=7")),
  );
  assert.deepEqual(event.kind === "exited" && event.exit, {
    exitCode: 0,
    signal: 0,
    timedOut: false,
    cpuMicros: 0,
    maxRssBytes: 0,
    wallMicros: 7,
  });
  const bare = decodeProcessFrame("x", withId(4));
  assert.deepEqual(bare.kind === "exited" && bare.exit.exitCode, 0);
});

test("a frame through the engine's framing decodes to what was put in", () => {
  const data = Buffer.from("hello\n");
  const wire = Buffer.concat([
    encodeFrame("n", withId(1, be32(77))),
    encodeFrame("O", withId(1, Buffer.from("2"), data)),
    encodeFrame("x", withId(1, Buffer.from("exit=0\n"))),
  ]);
  const events = new FrameDecoder()
    .push(wire)
    .map((frame) => decodeProcessFrame(frame.type, frame.payload));
  assert.deepEqual(
    events.map((e) => e.kind),
    ["started", "output", "exited"],
  );
  const output = events[1];
  assert.equal(output?.kind === "output" && output.data.toString(), "hello\n");
});

test("a frame too short for its fields is a ProcessFrameError naming the frame and its size", () => {
  const cases: [string, Buffer][] = [
    ["n", Buffer.alloc(0)],
    ["n", Buffer.alloc(3)],
    ["n", Buffer.alloc(7)],
    ["O", Buffer.alloc(4)],
    ["j", Buffer.alloc(7)],
    ["x", Buffer.alloc(3)],
  ];
  for (const [type, payload] of cases)
    assert.throws(
      () => decodeProcessFrame(type, payload),
      (error: unknown) =>
        error instanceof ProcessFrameError &&
        error.message === `process frame '${type}' of ${payload.length} bytes is too short`,
      `'${type}' of ${payload.length} bytes`,
    );
  // Exactly long enough is no error.
  assert.equal(decodeProcessFrame("n", Buffer.alloc(8)).kind, "refused");
  assert.equal(decodeProcessFrame("O", Buffer.alloc(5)).kind, "output");
  assert.equal(decodeProcessFrame("j", Buffer.alloc(8)).kind, "stdinTaken");
  assert.equal(decodeProcessFrame("x", Buffer.alloc(4)).kind, "exited");
});

test("a frame that is not a process frame is a ProcessFrameError, and isProcessFrame says which are", () => {
  for (const type of ["1", "X", "N", "U", "o", ""]) {
    assert.equal(isProcessFrame(type), false, type);
    assert.throws(
      () => decodeProcessFrame(type, Buffer.alloc(16)),
      (error: unknown) =>
        error instanceof ProcessFrameError &&
        error.message === `not a process frame: ${JSON.stringify(type)}`,
      type,
    );
  }
  for (const type of Object.values(FROM_PROCESSES)) assert.equal(isProcessFrame(type), true, type);
});

test("the engine's stdin window fits what the supervisor holds of one process's stdin, in frames smaller than it", () => {
  const processes = readFileSync(new URL("../../sandbox/processes.c", import.meta.url), "utf8");
  const limit = /#define STDIN_PENDING_LIMIT \((\d+) \* 1024\)/.exec(processes);
  assert.ok(limit, "processes.c defines STDIN_PENDING_LIMIT");
  // Past its limit the supervisor gives up on the sandbox: the window must stay within it.
  assert.equal(STDIN_WINDOW, 256 * 1024);
  assert.ok(STDIN_WINDOW <= Number(limit[1]) * 1024);
  assert.equal(STDIN_CHUNK, 64 * 1024);
  assert.ok(STDIN_CHUNK < STDIN_WINDOW);
});
