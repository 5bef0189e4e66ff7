// The engine's side of the file frames (src/sandbox/file-protocol.ts), the
// paths sandbox.files takes (file-paths.ts) and the entries and errors it
// makes of the supervisor's answers (file-entries.ts): pure, no Docker.
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { FrameDecoder } from "../../src/engine/protocol.js";
import { SandboxFileError } from "../../src/engine/session-files.js";
import { SandboxFileNotFoundError, SandboxFileRefusedError } from "../../src/sandbox/errors.js";
import {
  entryInfo,
  fileError,
  listedEntries,
  permissionString,
} from "../../src/sandbox/file-entries.js";
import { filePath, isPlace } from "../../src/sandbox/file-paths.js";
import {
  decodeFileFrame,
  decodeRecords,
  encodeFileCredit,
  encodeFileRequest,
  encodeFileStop,
  encodeWriteData,
  FILE_CHUNK,
  FileFrameError,
  isFileFrame,
} from "../../src/sandbox/file-protocol.js";

const frame = (bytes: Buffer) => {
  const [decoded] = new FrameDecoder().push(bytes);
  assert.ok(decoded);
  return decoded;
};

/** A record as sandbox/files.c's put_record() writes it. */
function record(type: string, mode: number, size: number, ms: number, path: string, target = "") {
  const head = Buffer.alloc(25);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(mode, 1);
  head.writeBigUInt64BE(BigInt(size), 5);
  head.writeBigInt64BE(BigInt(ms), 13);
  head.writeUInt32BE(Buffer.byteLength(path), 21);
  const targetLength = Buffer.alloc(4);
  targetLength.writeUInt32BE(Buffer.byteLength(target));
  return Buffer.concat([head, Buffer.from(path), targetLength, Buffer.from(target)]);
}

const withId = (id: number, ...rest: (Buffer | string)[]) => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(id);
  return Buffer.concat([head, ...rest.map((part) => Buffer.from(part))]);
};

test("a request: id, operation letter, then tag-length-value fields", () => {
  const { type, payload } = frame(
    encodeFileRequest(7, { operation: "rename", path: "/sandbox/a", to: "/sandbox/b" }),
  );
  assert.equal(type, "B");
  assert.equal(payload.readUInt32BE(0), 7);
  assert.equal(payload.toString("latin1", 4, 5), "n");
  assert.deepEqual(
    payload.subarray(5),
    Buffer.from("p\0\0\0\x0a/sandbox/aq\0\0\0\x0a/sandbox/b", "latin1"),
  );
  const list = frame(encodeFileRequest(1, { operation: "list", path: "/tmp", depth: 3 })).payload;
  assert.deepEqual(list.subarray(4), Buffer.from("lp\0\0\0\x04/tmpd\0\0\0\x013", "latin1"));
  const watch = frame(encodeFileRequest(2, { operation: "watch", path: "/tmp", recursive: true }));
  assert.deepEqual(watch.payload.subarray(4), Buffer.from("vp\0\0\0\x04/tmpr\0\0\0\0", "latin1"));
  const flat = frame(encodeFileRequest(2, { operation: "watch", path: "/tmp", recursive: false }));
  assert.deepEqual(flat.payload.subarray(4), Buffer.from("vp\0\0\0\x04/tmp", "latin1"));
});

test("write data, credit and stop frames; a chunk over 64 KiB is not made", () => {
  assert.deepEqual(frame(encodeWriteData(3, Buffer.from("hi"))), {
    type: "M",
    payload: withId(3, "hi"),
  });
  assert.deepEqual(frame(encodeWriteData(3, new Uint8Array())).payload, withId(3));
  assert.throws(() => encodeWriteData(3, new Uint8Array(FILE_CHUNK + 1)), RangeError);
  const credit = frame(encodeFileCredit(9, 65536));
  assert.equal(credit.type, "V");
  assert.deepEqual([credit.payload.readUInt32BE(0), credit.payload.readUInt32BE(4)], [9, 65536]);
  assert.deepEqual(frame(encodeFileStop(4)), { type: "b", payload: withId(4) });
});

test("the supervisor's frames decode; a malformed one throws FileFrameError", () => {
  assert.ok(isFileFrame("f") && isFileFrame("d") && isFileFrame("w") && isFileFrame("e"));
  assert.ok(!isFileFrame("O") && !isFileFrame("x"));
  assert.deepEqual(decodeFileFrame("f", withId(5, "k1")), {
    kind: "ok",
    id: 5,
    body: Buffer.from("1"),
  });
  assert.deepEqual(decodeFileFrame("f", withId(5, "eENOENT No such file or directory")), {
    kind: "error",
    id: 5,
    code: "ENOENT",
    message: "No such file or directory",
  });
  assert.deepEqual(decodeFileFrame("d", withId(6, "bytes")), {
    kind: "data",
    id: 6,
    data: Buffer.from("bytes"),
  });
  assert.deepEqual(decodeFileFrame("w", withId(6, Buffer.from([0, 1, 0, 0]))), {
    kind: "writeTaken",
    id: 6,
    bytes: 65536,
  });
  assert.deepEqual(decodeFileFrame("e", withId(8, "csub/new.txt")), {
    kind: "event",
    id: 8,
    type: "create",
    name: "sub/new.txt",
  });
  const types = ["w", "r", "m", "a"].map((letter) => {
    const event = decodeFileFrame("e", withId(1, `${letter}x`));
    return event.kind === "event" ? event.type : "";
  });
  assert.deepEqual(types, ["write", "remove", "rename", "chmod"]);
  for (const [type, payload] of [
    ["f", Buffer.from([0, 0])],
    ["f", withId(1)],
    ["f", withId(1, "?")],
    ["w", withId(1, "ab")],
    ["e", withId(1, "zname")],
    ["X", withId(1)],
  ] as const)
    assert.throws(
      () => decodeFileFrame(type, payload),
      FileFrameError,
      `${type} ${payload.toString("hex")}`,
    );
});

test("entries decode from records, several in one chunk; a cut one throws", () => {
  const bytes = Buffer.concat([
    record("f", 0o644, 5_000_000_000, 1_700_000_000_123, "a/file.txt"),
    record("l", 0o777, 3, -1000, "link", "../é"),
    record("d", 0o1777, 4096, 0, ""),
  ]);
  assert.deepEqual(decodeRecords(bytes), [
    {
      type: "f",
      mode: 0o644,
      size: 5_000_000_000,
      modifiedMs: 1_700_000_000_123,
      path: "a/file.txt",
    },
    { type: "l", mode: 0o777, size: 3, modifiedMs: -1000, path: "link", target: "../é" },
    { type: "d", mode: 0o1777, size: 4096, modifiedMs: 0, path: "" },
  ]);
  assert.deepEqual(decodeRecords(Buffer.alloc(0)), []);
  assert.throws(() => decodeRecords(bytes.subarray(0, bytes.length - 1)), FileFrameError);
  assert.throws(() => decodeRecords(bytes.subarray(0, 10)), FileFrameError);
});

test("EntryInfo: name, absolute path, type, permissions as ls shows them", () => {
  const [file, link] = decodeRecords(
    Buffer.concat([
      record("f", 0o640, 2, 86_400_000, "x/y.txt"),
      record("l", 0o777, 1, 0, "l", "y"),
    ]),
  );
  assert.ok(file && link);
  assert.deepEqual(listedEntries("/sandbox/d", [file, link]), [
    {
      name: "y.txt",
      path: "/sandbox/d/x/y.txt",
      type: "file",
      size: 2,
      mode: 0o640,
      permissions: "-rw-r-----",
      modifiedTime: new Date(86_400_000),
    },
    {
      name: "l",
      path: "/sandbox/d/l",
      type: "symlink",
      size: 1,
      mode: 0o777,
      permissions: "lrwxrwxrwx",
      modifiedTime: new Date(0),
      symlinkTarget: "y",
    },
  ]);
  assert.equal(entryInfo("/sandbox", { ...file, type: "d", path: "" }).name, "sandbox");
  assert.equal(entryInfo("/tmp/q", { ...file, type: "?" }).type, "unknown");
  assert.deepEqual(
    [
      permissionString("d", 0o1777),
      permissionString("d", 0o1776),
      permissionString("f", 0o4755),
      permissionString("f", 0o2644),
      permissionString("p", 0o600),
      permissionString("s", 0o755),
      permissionString("c", 0o666),
      permissionString("b", 0),
    ],
    [
      "drwxrwxrwt",
      "drwxrwxrwT",
      "-rwsr-xr-x",
      "-rw-r-Sr--",
      "prw-------",
      "srwxr-xr-x",
      "crw-rw-rw-",
      "b---------",
    ],
  );
});

test("the supervisor's error codes become error classes that name the path", () => {
  const missing = fileError("/sandbox/x", "ENOENT", "No such file or directory");
  assert.ok(missing instanceof SandboxFileNotFoundError && missing instanceof SandboxFileError);
  assert.deepEqual(
    [missing.code, missing.path, missing.message],
    ["FILE_NOT_FOUND", "/sandbox/x", "/sandbox/x: no such file or folder"],
  );
  for (const code of ["ESCAPE", "SPECIAL"]) {
    const error = fileError("/sandbox/l", code, "why");
    assert.ok(error instanceof SandboxFileRefusedError, code);
    assert.equal(error.message, "/sandbox/l: why");
  }
  const other = fileError("/sandbox/f", "EEXIST", "File exists");
  assert.ok(
    !(other instanceof SandboxFileRefusedError) && !(other instanceof SandboxFileNotFoundError),
  );
  assert.deepEqual(
    [other.code, other.message],
    ["SANDBOX_FILE", "/sandbox/f: File exists (EEXIST)"],
  );
});

test("paths: inside /sandbox or /tmp, normalized, relative ones from /sandbox", () => {
  const cases: [string, string][] = [
    ["/sandbox", "/sandbox"],
    ["/sandbox/", "/sandbox"],
    ["/sandbox//a/./b/../c/", "/sandbox/a/c"],
    ["/tmp/x", "/tmp/x"],
    ["notes.txt", "/sandbox/notes.txt"],
    ["./a/../b", "/sandbox/b"],
    ["/sandbox/a/../../tmp/z", "/tmp/z"],
  ];
  for (const [input, expected] of cases) assert.equal(filePath("path", input), expected, input);
  for (const outside of [
    "/",
    "/etc/passwd",
    "/sandbox/..",
    "../etc",
    "/sandboxes",
    "/tmpx/a",
    "/proc/self/root",
    "/dev/null",
  ])
    assert.throws(
      () => filePath("path", outside),
      (error: unknown) =>
        error instanceof SandboxFileRefusedError &&
        error.message ===
          `${outside}: is outside the sandbox's writable places (/sandbox and /tmp)`,
      outside,
    );
  for (const bad of ["", 7, undefined, "/sandbox/a\0b", `/sandbox/${"a".repeat(5000)}`])
    assert.throws(
      () => filePath("oldPath", bad),
      (error: unknown) => error instanceof InvalidOptionError && /^oldPath: /.test(error.message),
      String(bad).slice(0, 20),
    );
  assert.ok(isPlace("/sandbox") && isPlace("/tmp"));
  assert.ok(!isPlace("/sandbox/a") && !isPlace("/"));
});
