import assert from "node:assert/strict";
import { test } from "node:test";
import { DockerStdioDemuxer } from "../../src/backend/docker/stdio.js";
import {
  decodeExitReport,
  encodeFrame,
  encodeRun,
  FrameDecoder,
} from "../../src/engine/protocol.js";

test("frames survive being split at every byte", () => {
  const wire = Buffer.concat([
    encodeFrame("1", "hello"),
    encodeFrame("2", Buffer.from([0, 255, 10])),
    encodeFrame("X", ""),
  ]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const decoder = new FrameDecoder();
    const frames = [...decoder.push(wire.subarray(0, cut)), ...decoder.push(wire.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => [f.type, [...f.payload]]),
      [
        ["1", [...Buffer.from("hello")]],
        ["2", [0, 255, 10]],
        ["X", []],
      ],
    );
  }
});

test("a run request carries argv, env, files with binary content, timeout and output limit", () => {
  const frame = encodeRun({
    argv: ["python3", "/sandbox/main.py"],
    env: { A: "1" },
    workdir: "/sandbox",
    files: [{ path: "/sandbox/main.py", content: Buffer.from([0, 1, 2]) }],
    timeoutMs: 1500,
    outputLimit: 99,
  });
  const [decoded] = new FrameDecoder().push(frame);
  assert.equal(decoded?.type, "R");
  const fields: [string, string][] = [];
  const body = decoded?.payload ?? Buffer.alloc(0);
  for (let o = 0; o < body.length; ) {
    const len = body.readUInt32BE(o + 1);
    fields.push([
      String.fromCharCode(body[o] as number),
      body.subarray(o + 5, o + 5 + len).toString("latin1"),
    ]);
    o += 5 + len;
  }
  assert.deepEqual(fields, [
    ["a", "python3"],
    ["a", "/sandbox/main.py"],
    ["e", "A=1"],
    ["w", "/sandbox"],
    ["f", "/sandbox/main.py"],
    ["d", "\u0000\u0001\u0002"],
    ["t", "1500"],
    ["o", "99"],
  ]);
});

test("exit reports decode", () => {
  const report = decodeExitReport(
    Buffer.from(
      "exit=137\nsignal=9\ntimeout=1\noom=0\nstdout_truncated=1\nstderr_truncated=0\ncpu_us=2500\nmax_rss_kb=100\npeak_bytes=4096000\nwall_us=9000\n",
    ),
  );
  assert.deepEqual(report, {
    exitCode: 137,
    signal: 9,
    timedOut: true,
    oomKilled: false,
    stdoutTruncated: true,
    stderrTruncated: false,
    cpuMicros: 2500,
    containerPeakBytes: 4096000,
    maxRssBytes: 102400,
    wallMicros: 9000,
  });
  assert.equal(decodeExitReport(Buffer.from("max_rss_kb=100\n")).containerPeakBytes, -1);
});

test("Docker's multiplexed stdio is split into stdout and stderr", () => {
  const record = (stream: number, text: string) => {
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(Buffer.byteLength(text), 4);
    return Buffer.concat([header, Buffer.from(text)]);
  };
  const out: string[] = [];
  const err: string[] = [];
  const demuxer = new DockerStdioDemuxer(
    (c) => out.push(c.toString()),
    (c) => err.push(c.toString()),
  );
  const wire = Buffer.concat([record(1, "abc"), record(2, "oops"), record(1, "def")]);
  for (const byte of wire) demuxer.push(Buffer.from([byte]));
  assert.deepEqual([out.join(""), err.join("")], ["abcdef", "oops"]);
});
