// Secrets masked wherever output leaves the engine, against real Docker: the
// encodings a program applies to a secret, the network log's request paths,
// files returned by outputPaths and getFile, code contexts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SandboxFileError } from "../../src/engine/session-files.js";
import type { StreamEvent } from "../../src/types.js";
import { startHttpUpstream, type Upstream } from "../fixtures/upstreams.js";
import { collectStream, engine } from "../support/engine.js";

/** URL- and JSON-special characters, a space, non-ASCII: each encoding spells it differently. */
const SECRET = "sk-L1ve/Tok+en é9_Q";
const BYTES = Buffer.from(SECRET);

/** Every form the program below prints, computed here the way the program's libraries do. */
function printedForms(): string[] {
  const forms = [SECRET, BYTES.toString("hex"), BYTES.toString("hex").toUpperCase()];
  for (const prefix of ["", "a", "ab"]) {
    const encoded = Buffer.concat([Buffer.from(prefix), BYTES]).toString("base64");
    // The digits that carry only the secret's bits.
    forms.push(encoded.slice(Math.ceil((prefix.length * 8) / 6), -4));
  }
  forms.push(encodeURIComponent(SECRET), JSON.stringify(SECRET).slice(1, -1));
  return forms;
}

/** Python printing the secret (from its environment) raw and in every common encoding, in pieces. */
const PRINT_ENCODED = String.raw`
import base64, json, os, re, sys, urllib.parse
s = os.environ["API_KEY"]
b = s.encode()
forms = [s, b.hex(), b.hex().upper()]
forms += [base64.b64encode(p + b).decode() for p in (b"", b"a", b"ab")]
forms += [base64.urlsafe_b64encode(b"a" + b).decode()]
forms += [urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s), re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(s))]
forms += [json.dumps(s), json.dumps(s, ensure_ascii=False), "".join("\\u%04x" % ord(c) for c in s)]
for form in forms:
    # One character per write: every split offset reaches the engine as its own chunk.
    for c in "<" + form + ">\n":
        sys.stdout.write(c)
        sys.stdout.flush()
    sys.stderr.write(form + "\n")
print("done")
`;

function assertNoForm(text: string, where: string): void {
  for (const form of printedForms())
    assert.ok(!text.includes(form), `${where} shows ${JSON.stringify(form)}:\n${text}`);
  // Nor any six characters of the secret in a row.
  for (let i = 0; i + 6 <= SECRET.length; i++)
    assert.ok(
      !text.includes(SECRET.slice(i, i + 6)),
      `${where} shows part of the secret:\n${text}`,
    );
}

describe("secrets in encoded forms", () => {
  const isol8 = engine({ secrets: { API_KEY: SECRET } });

  test("stdout and stderr mask base64 (all alignments), hex, URL and JSON encodings, byte by byte", async () => {
    const result = await isol8.execute({ runtime: "python", code: PRINT_ENCODED });
    assert.equal(result.exitCode, 0, result.stderr);
    assertNoForm(result.stdout, "stdout");
    assertNoForm(result.stderr, "stderr");
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.at(-1), "done");
    // Every printed form was masked, not dropped: 13 lines, each with a mask.
    assert.equal(lines.length, 14, result.stdout);
    for (const line of lines.slice(0, -1)) assert.match(line, /\*\*\*/, line);
  });

  test("a stream's events mask the same", async () => {
    const events = await collectStream(isol8, { runtime: "python", code: PRINT_ENCODED });
    const text = events.map(({ event }) => ("data" in event ? event.data : "")).join("");
    assertNoForm(text, "stream");
  });
});

describe("secrets in a filtered network's log", () => {
  let upstream: Upstream;
  before(async () => {
    upstream = await startHttpUpstream();
  });
  after(() => upstream?.close());

  test("a request whose query string carries the secret: the log's path and the echo are masked", async () => {
    const isol8 = engine({
      network: "filtered",
      networkFilter: { whitelist: [`localhost:${upstream.port}`, "127\\.0\\.0\\.1"] },
      logNetwork: true,
      secrets: { API_KEY: SECRET },
    });
    const code = `
import os, urllib.parse, urllib.request
key = urllib.parse.quote(os.environ["API_KEY"], safe="")
with urllib.request.urlopen(f"http://localhost:${upstream.port}/v1?api_key={key}", timeout=10) as answer:
    print(answer.read().decode())
try:
    urllib.request.urlopen("http://blocked.invalid/?k=" + key, timeout=10)
except Exception as error:
    print("blocked", error)
`;
    const result = await isol8.execute({ runtime: "python", code });
    assert.equal(result.exitCode, 0, result.stderr);
    // The request did carry the secret (the sandbox had it), the caller sees it masked.
    assert.ok(
      upstream.requests.at(-1)?.includes(encodeURIComponent(SECRET)),
      upstream.requests.join(),
    );
    assertNoForm(result.stdout, "stdout");
    const log = result.networkLogs ?? [];
    assert.equal(log.length, 2, JSON.stringify(log));
    assert.deepEqual(
      log.map((entry) => entry.path),
      ["/v1?api_key=***", "/?k=***"],
    );
    assertNoForm(JSON.stringify(log), "networkLogs");
  });
});

describe("files that hold a secret are withheld", () => {
  const WRITE_FILES = `
import base64, os
s = os.environ["API_KEY"].encode()
open("/sandbox/clean.bin", "wb").write(bytes(range(256)))
open("/sandbox/raw.bin", "wb").write(b"\\x89PNG\\x00" + s + b"\\xff")
open("/sandbox/b64.txt", "wb").write(base64.b64encode(b"xy" + s))
open("/sandbox/hex.txt", "w").write(s.hex().upper())
`;

  test("outputPaths: a file with the secret in any form is left out with an error naming it; others come back", async () => {
    const isol8 = engine({ secrets: { API_KEY: SECRET } });
    const paths = [
      "/sandbox/clean.bin",
      "/sandbox/raw.bin",
      "/sandbox/b64.txt",
      "/sandbox/hex.txt",
    ];
    const events = await collectStream(isol8, {
      runtime: "python",
      code: WRITE_FILES,
      outputPaths: paths,
    });
    const exit = events.at(-1)?.event as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(exit.type, "exit");
    const { files, withheldFiles } = exit.result;
    assert.deepEqual(Object.keys(files ?? {}), ["/sandbox/clean.bin"]);
    assert.deepEqual(
      Buffer.from(files?.["/sandbox/clean.bin"] ?? "", "base64"),
      Buffer.from([...Array(256).keys()]),
    );
    assert.deepEqual(withheldFiles, ["/sandbox/raw.bin", "/sandbox/b64.txt", "/sandbox/hex.txt"]);
    const errors = events.flatMap(({ event }) => (event.type === "error" ? [event.data] : []));
    for (const path of paths.slice(1))
      assert.ok(
        errors.some((e) => e.includes(path) && /secret/.test(e)),
        errors.join("\n"),
      );
    const buffered = await isol8.execute({
      runtime: "python",
      code: WRITE_FILES,
      outputPaths: paths,
    });
    assert.deepEqual(buffered.withheldFiles, withheldFiles);
  });

  test("getFile refuses a session's file that holds the secret, naming it", async () => {
    const isol8 = engine({ mode: "persistent", secrets: { API_KEY: SECRET } });
    await isol8.execute({ runtime: "python", code: WRITE_FILES });
    assert.equal((await isol8.getFile("/sandbox/clean.bin")).length, 256);
    for (const path of ["/sandbox/raw.bin", "/sandbox/b64.txt", "/sandbox/hex.txt"]) {
      await assert.rejects(
        isol8.getFile(path),
        (error: Error) =>
          error instanceof SandboxFileError &&
          error.message.includes(path) &&
          /secret/.test(error.message),
      );
    }
  });
});

describe("code contexts", () => {
  test("a cell's output, value and file reads are masked or withheld", async () => {
    const isol8 = engine({ secrets: { API_KEY: SECRET } });
    const context = await isol8.createContext({ runtime: "python" });
    const result = await isol8.execute({
      runtime: "python",
      contextId: context.id,
      code: [
        "import base64, json, os, urllib.parse",
        "s = os.environ['API_KEY']",
        "print(json.dumps(s)); print(urllib.parse.quote_plus(s)); print(s.encode().hex())",
        "open('/sandbox/out.txt', 'w').write(base64.b64encode(b'a' + s.encode()).decode())",
        "base64.b64encode(b'ab' + s.encode())",
      ].join("\n"),
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assertNoForm(result.stdout, "stdout");
    assert.match(result.value ?? "", /\*\*\*/);
    assertNoForm(result.value ?? "", "value");
    // Rich outputs: an SVG is text (masked), a PNG holding the secret is left out, with a notice.
    await isol8.execute({
      runtime: "python",
      contextId: context.id,
      code: [
        "class Svg:",
        "    def _repr_svg_(self): return '<svg>' + urllib.parse.quote(s) + '</svg>'",
        "class Png:",
        "    def _repr_png_(self): return b'\\x89PNG\\r\\n\\x1a\\n' + base64.b64encode(s.encode())",
        "class Plain:",
        "    def _repr_png_(self): return b'\\x89PNG\\r\\n\\x1a\\n no secret'",
      ].join("\n"),
    });
    const svg = await isol8.execute({ runtime: "python", contextId: context.id, code: "Svg()" });
    assert.deepEqual(svg.outputs, [
      { type: "image/svg+xml", data: "<svg>***</svg>", stdoutOffset: 0 },
    ]);
    const plain = await isol8.execute({
      runtime: "python",
      contextId: context.id,
      code: "Plain()",
    });
    assert.equal(plain.outputs?.length, 1, "a PNG without the secret comes back");
    const events = await collectStream(isol8, {
      runtime: "python",
      contextId: context.id,
      code: "Png()",
    });
    const exit = events.at(-1)?.event as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(exit.result.outputs, undefined);
    assert.ok(
      events.some(({ event }) => event.type === "error" && /withheld/.test(event.data)),
      JSON.stringify(events),
    );
    await assert.rejects(
      isol8.getFile("/sandbox/out.txt", { contextId: context.id }),
      (error: Error) =>
        error instanceof SandboxFileError && error.message.includes("/sandbox/out.txt"),
    );
  });
});
