// Secrets masked in the encodings programs apply to them, at every split of
// the output into pieces, and found in files of any content.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { redactError, redactNetworkLog, withheldReason } from "../../src/output/redact.js";
import { SecretMasker, SecretSet } from "../../src/output/secret-masker.js";
import { TextStream } from "../../src/output/text-stream.js";

/** Letters, digits, URL- and JSON-special characters, a space and non-ASCII, one outside the BMP. */
const SECRET = 'sk-Ab/9+z "q\\ é✓😀';
const BYTES = Buffer.from(SECRET, "utf8");

const jsonEveryChar = (s: string, upper = false) =>
  [...s]
    .flatMap((c) => (c.length === 2 ? [c[0] as string, c[1] as string] : [c]))
    .map((c) => {
      const hex = c.charCodeAt(0).toString(16).padStart(4, "0");
      return `\\u${upper ? hex.toUpperCase() : hex}`;
    })
    .join("");
const base64At = (alignment: number, url = false) => {
  const bytes = Buffer.concat([Buffer.from("xyz".slice(0, alignment)), BYTES, Buffer.from("!")]);
  return bytes.toString(url ? "base64url" : "base64");
};

/** Each encoding of SECRET as a program would print it (with whatever surrounds it in that encoding). */
const ENCODINGS: Record<string, string> = {
  raw: SECRET,
  "json.dumps (non-ASCII escaped)": JSON.stringify(SECRET).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  ),
  "JSON.stringify": JSON.stringify(SECRET),
  "JSON \\u escapes of every character": jsonEveryChar(SECRET),
  "JSON \\u escapes, upper-case hex": jsonEveryChar(SECRET, true),
  "JSON \\/ and mixed": JSON.stringify(SECRET).replace("/", "\\/").replace("A", "\\u0041"),
  encodeURIComponent: encodeURIComponent(SECRET),
  "encodeURIComponent, lower-case hex": encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (x) =>
    x.toLowerCase(),
  ),
  "form encoding (space as +)": new URLSearchParams({ k: SECRET }).toString().slice(2),
  "every byte as %XX": [...BYTES].map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""),
  "base64, aligned": base64At(0),
  "base64, 1 byte in": base64At(1),
  "base64, 2 bytes in": base64At(2),
  "base64url, 1 byte in": base64At(1, true),
  "base64url, 2 bytes in": base64At(2, true),
  "hex, lower-case": BYTES.toString("hex"),
  "hex, upper-case": BYTES.toString("hex").toUpperCase(),
};

/** The output of a masker fed `pieces`, then ended. */
function masked(secrets: SecretSet, pieces: string[]): string {
  const masker = new SecretMasker(secrets);
  return pieces.map((piece) => masker.push(piece)).join("") + masker.end();
}

/** The longest run of the encoded text that still reads as part of the secret: none may be left. */
function leaks(output: string, encoded: string): boolean {
  // Any 6 characters in a row of the encoded secret (the surrounding digits of base64 may stay).
  const inner = encoded.slice(3, -3);
  for (let i = 0; i + 6 <= inner.length; i++)
    if (output.includes(inner.slice(i, i + 6))) return true;
  return false;
}

describe("every encoding, every split offset", () => {
  const secrets = new SecretSet([SECRET]);
  for (const [name, encoded] of Object.entries(ENCODINGS)) {
    test(name, () => {
      const text = `before ${encoded} between ${encoded}\nafter`;
      const whole = masked(secrets, [text]);
      assert.equal(whole.split("***").length - 1, 2, `masked twice: ${whole}`);
      assert.ok(!leaks(whole, encoded), `nothing of it left: ${whole}`);
      assert.ok(whole.startsWith("before ") && whole.endsWith("\nafter"), whole);
      for (let cut = 0; cut <= text.length; cut++) {
        assert.equal(
          masked(secrets, [text.slice(0, cut), text.slice(cut)]),
          whole,
          `split at ${cut}`,
        );
      }
      assert.equal(masked(secrets, text.split("")), whole, "one character at a time");
    });
  }

  test("across UTF-8 bytes: a TextStream fed one byte at a time masks the same", () => {
    for (const [name, encoded] of Object.entries(ENCODINGS)) {
      const bytes = Buffer.from(`<${encoded}>`);
      const stream = new TextStream(secrets);
      let out = "";
      for (let i = 0; i < bytes.length; i++) out += stream.push(bytes.subarray(i, i + 1));
      out += stream.end();
      assert.equal(out, masked(secrets, [`<${encoded}>`]), name);
      assert.ok(out.includes("***"), name);
    }
  });
});

describe("streaming behaviour", () => {
  test("text that cannot start any form is released at once; a possible start is held", () => {
    const masker = new SecretMasker(new SecretSet(["hunter2-secret"]));
    assert.equal(masker.push("plain line\n"), "plain line\n");
    assert.equal(masker.push("x=hunt"), "x=");
    assert.equal(masker.held, 4);
    assert.equal(masker.push("er2-secret!"), "***!");
    // A partial %XX or \u escape is held as well.
    assert.equal(masker.push("y=%6"), "y=");
    assert.equal(masker.push("8unter2-secret."), "***.");
  });

  test("held text that is no secret comes out unchanged", () => {
    const secrets = new SecretSet(["hunter2-secret"]);
    const text = "hunter2-secreT %68%75 \\u0068unt 68756e74 aHVudGVy";
    for (let cut = 0; cut <= text.length; cut++)
      assert.equal(masked(secrets, [text.slice(0, cut), text.slice(cut)]), text, `cut ${cut}`);
  });

  test("a longer secret containing a shorter one is masked whole, in any encoding", () => {
    const secrets = new SecretSet(["abc123", "abc123def456"]);
    const text = `${encodeURIComponent("abc123def456")} ${Buffer.from("abc123def456").toString("hex")}`;
    for (let cut = 0; cut <= text.length; cut++)
      assert.equal(masked(secrets, [text.slice(0, cut), text.slice(cut)]), "*** ***");
  });

  test("no secrets, or only empty ones: output passes through", () => {
    assert.equal(masked(new SecretSet([]), ["a%62", "c"]), "a%62c");
    assert.equal(masked(new SecretSet([""]), ["abc"]), "abc");
  });

  test("short secrets: base64 and hex forms under 6 digits are not matched (too common)", () => {
    const secrets = new SecretSet(["ab"]);
    assert.equal(secrets.mask("YWI= 6162 ab %61%62"), "YWI= 6162 *** ***");
  });
});

describe("files: found in any content, at every offset", () => {
  const secrets = new SecretSet([SECRET]);
  test("each encoding inside binary bytes", () => {
    for (const [name, encoded] of Object.entries(ENCODINGS)) {
      const file = Buffer.concat([
        Buffer.from([0, 255, 1]),
        Buffer.from(encoded),
        Buffer.from([0]),
      ]);
      assert.ok(secrets.foundIn(file), name);
    }
    assert.ok(
      secrets.foundIn(Buffer.concat([Buffer.from([0x89, 0x50]), BYTES])),
      "raw UTF-8 bytes",
    );
    assert.ok(!secrets.foundIn(Buffer.from("sk-Ab/9+z no secret here")));
  });

  test("a secret across the boundary of the slices a file is read in", () => {
    const slice = 1 << 20;
    for (const encoded of [SECRET, base64At(1), BYTES.toString("hex")]) {
      const bytes = Buffer.from(encoded);
      for (let start = slice - bytes.length; start <= slice; start++) {
        const file = Buffer.alloc(slice + bytes.length + 2, 0x20);
        bytes.copy(file, start);
        assert.ok(secrets.foundIn(file), `at ${start}`);
      }
    }
  });
});

test("network log entries: every field a program chose is masked", () => {
  const secrets = new SecretSet(["s3cr3t-t0ken"]);
  const entry = redactNetworkLog(
    {
      timestamp: "2026-01-01T00:00:00.000Z",
      method: "GET",
      host: "s3cr3t-t0ken.example",
      port: 80,
      path: `/x?api_key=${encodeURIComponent("s3cr3t-t0ken")}&b=${Buffer.from("s3cr3t-t0ken").toString("base64")}`,
      action: "BLOCK",
      reason: "cannot resolve s3cr3t-t0ken.example (ENOTFOUND)",
      durationMs: 1,
      bytesOut: 0,
      bytesIn: 0,
    },
    secrets,
  );
  assert.equal(entry.host, "***.example");
  assert.equal(entry.path, "/x?api_key=***&b=***");
  assert.equal(entry.reason, "cannot resolve ***.example (ENOTFOUND)");
});

test("error messages and stacks are masked in place, keeping their class", () => {
  const secrets = new SecretSet(["s3cr3t-t0ken"]);
  const error = redactError(new TypeError("bad s3cr3t-t0ken"), secrets);
  assert.ok(error instanceof TypeError);
  assert.equal(error.message, "bad ***");
  assert.ok(!error.stack?.includes("s3cr3t"));
});

test("a long secret's base64 wrapped in lines (PEM 64, MIME 76 columns) is masked at every split", () => {
  const long = "sk-live-".padEnd(90, "0123456789abcdef");
  const secrets = new SecretSet([long]);
  for (const width of [64, 76]) {
    const encoded = Buffer.from(`a${long}`).toString("base64");
    const lines = encoded.match(new RegExp(`.{1,${width}}`, "g")) ?? [];
    for (const eol of ["\n", "\r\n"]) {
      const text = `key:\n${lines.join(eol)}\nend`;
      const whole = masked(secrets, [text]);
      assert.ok(whole.startsWith("key:\nY") && whole.endsWith("\nend"), whole);
      assert.equal(whole.split("***").length, 2, whole);
      for (let cut = 0; cut <= text.length; cut++)
        assert.equal(masked(secrets, [text.slice(0, cut), text.slice(cut)]), whole, `cut ${cut}`);
    }
  }
});

describe("redaction edges", () => {
  const entry = {
    timestamp: "2026-01-01T00:00:00.000Z",
    method: "GET",
    host: "example.com",
    port: 443,
    path: null,
    action: "ALLOW",
    durationMs: 1,
    bytesOut: 0,
    bytesIn: 0,
  } as const;

  test("without secrets a log entry and an error are returned as they are", () => {
    const none = new SecretSet([""]);
    assert.equal(none.empty, true);
    assert.equal(redactNetworkLog(entry, none), entry);
    const error = new Error("text");
    assert.equal(redactError(error, none), error);
  });

  test("a log entry without a path or a reason keeps them absent", () => {
    const masked = redactNetworkLog(
      { ...entry, method: "s3cr3t-t0ken" },
      new SecretSet(["s3cr3t-t0ken"]),
    );
    assert.equal(masked.path, null);
    assert.equal("reason" in masked, false);
    assert.equal(masked.method, "***");
  });

  test("an error whose message holds no secret is left alone, stack included; a non-error is returned", () => {
    const secrets = new SecretSet(["s3cr3t-t0ken"]);
    const error = new Error("nothing here");
    error.stack = "Error: nothing here\n    at s3cr3t-t0ken";
    assert.equal(redactError(error, secrets).stack, "Error: nothing here\n    at s3cr3t-t0ken");
    const bare = new Error("s3cr3t-t0ken");
    bare.stack = undefined;
    assert.equal(redactError(bare, secrets).stack, undefined);
    assert.equal(redactError(bare, secrets).message, "***");
    assert.equal(redactError("s3cr3t-t0ken", secrets), "s3cr3t-t0ken");
    // Only Error objects are edited in place: any other thrown value is returned untouched.
    const frozen = Object.freeze({ message: "s3cr3t-t0ken" });
    assert.equal(redactError(frozen, secrets), frozen);
  });

  test("a file is withheld for a secret in it, with the reason said", () => {
    const secrets = new SecretSet(["s3cr3t-t0ken"]);
    assert.equal(
      withheldReason(Buffer.from("x s3cr3t-t0ken"), secrets),
      "withheld: it contains the value of a secret (raw or encoded)",
    );
    assert.equal(withheldReason(Buffer.from("clean"), secrets), undefined);
    assert.equal(withheldReason(new Uint8Array(0), secrets), undefined);
  });

  test("empty and repeated secrets are ignored; with no secret nothing is found", () => {
    const set = new SecretSet(["", "abcdef", "abcdef"]);
    assert.equal(set.empty, false);
    assert.equal(set.mask(""), "");
    assert.equal(set.mask("xabcdefx"), "x***x");
    assert.equal(new SecretSet([]).foundIn(Buffer.from("abcdef")), false);
    assert.equal(new SecretSet([]).text, undefined);
    assert.equal(new SecretSet(["abcdef"]).foundIn(Buffer.from("xxabcdefxx")), true);
  });
});

describe("secret forms at their edges", () => {
  const mask = (secret: string, text: string) => new SecretSet([secret]).mask(text);

  test("JSON's short escapes of control characters", () => {
    const secret = "a\tb\nc\rd\be\ff";
    assert.equal(mask(secret, JSON.stringify(secret)), '"***"');
  });

  test("URL encoding pads bytes below 0x10 to two digits", () => {
    const secret = "a\nbcdef";
    assert.equal(mask(secret, encodeURIComponent(secret)), "***");
  });

  test("a space may be a plus; nothing else may", () => {
    assert.equal(mask("sk 123456", "sk+123456"), "***");
    assert.equal(mask("sk-123456", "sk+123456"), "sk+123456");
  });

  test("URL-safe base64, and the shortest base64 and hex forms kept", () => {
    const secret = "???>>>";
    assert.ok(Buffer.from(secret).toString("base64").includes("/"));
    assert.equal(mask(secret, Buffer.from(secret).toString("base64url")), "***");
    // Five bytes: six base64 digits encode them alone.
    assert.equal(mask("abcde", "YWJjZG"), "***");
    // Three bytes: six hex digits.
    assert.equal(mask("abc", "616263"), "***");
    assert.equal(mask("abc", "6162"), "6162");
  });

  test("base64 of exactly 60 digits is not taken with line breaks; longer is", () => {
    const secret = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHI"; // 45 bytes, 60 digits
    const digits = Buffer.from(secret).toString("base64");
    assert.equal(digits.length, 60);
    assert.equal(mask(secret, digits), "***");
    const broken = `${digits.slice(0, 30)}\n${digits.slice(30)}`;
    assert.equal(mask(secret, broken), broken);
  });

  test("a stack formatted before the masking is masked too", () => {
    const error = new Error("bad s3cr3t-t0ken");
    assert.ok(error.stack?.includes("s3cr3t-t0ken"));
    redactError(error, new SecretSet(["s3cr3t-t0ken"]));
    assert.ok(!error.stack?.includes("s3cr3t"), error.stack);
  });

  test("with no secret, text passes untouched; after end() nothing is held", () => {
    assert.equal(new SecretSet([]).mask("abc"), "abc");
    const masker = new SecretMasker(["abcdef"]);
    assert.equal(masker.push("x abc"), "x ");
    assert.equal(masker.end(), "abc");
    assert.equal(masker.held, 0);
    assert.equal(masker.push("d"), "d");
  });
});
