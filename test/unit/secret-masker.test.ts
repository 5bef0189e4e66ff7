import assert from "node:assert/strict";
import { test } from "node:test";
import { SecretMasker, SecretSet } from "../../src/output/secret-masker.js";

function maskInPieces(secrets: string[], pieces: string[]): { out: string; released: string[] } {
  const masker = new SecretMasker(secrets);
  const released = pieces.map((p) => masker.push(p));
  return { out: released.join("") + masker.end(), released };
}

test("masks a secret printed whole, inside a longer string", () => {
  assert.equal(maskInPieces(["sk-123"], ["key=sk-123;"]).out, "key=***;");
});

test("masks a secret written one character at a time", () => {
  const secret = "sk-live-abcdef";
  const { out } = maskInPieces([secret], [..."before sk-live-abcdef after"]);
  assert.equal(out, "before *** after");
  assert.ok(!out.includes("abc"));
});

test("masks every split of a secret across two pieces", () => {
  const secret = "p4ssw0rd!";
  const text = `x${secret}y${secret}`;
  for (let cut = 0; cut <= text.length; cut++) {
    const { out } = maskInPieces([secret], [text.slice(0, cut), text.slice(cut)]);
    assert.equal(out, "x***y***", `cut at ${cut}`);
  }
});

test("releases text that cannot start a secret at once", () => {
  const { released } = maskInPieces(["sk-secret"], ["1\n2\n3\n", "sk-", "sec", "ret!"]);
  assert.equal(released[0], "1\n2\n3\n");
  assert.equal(released[1], "");
  assert.equal(released[3], "***!");
});

test("a longer secret that starts with a shorter one is masked whole, even when split", () => {
  const { out } = maskInPieces(["abc", "abcdef"], ["xx abc", "def yy abc zz"]);
  assert.equal(out, "xx *** yy *** zz");
});

test("held-back text that turns out not to be a secret is released unchanged", () => {
  const { out } = maskInPieces(["secret"], ["sec", "ond"]);
  assert.equal(out, "second");
});

test("no secrets: text passes through", () => {
  assert.equal(maskInPieces([], ["a", "b"]).out, "ab");
  assert.equal(maskInPieces([""], ["a"]).out, "a");
});

test("the start of a secret cut off by the end of a whole text is not masked", () => {
  const secrets = new SecretSet(["sk-123456"]);
  assert.equal(secrets.mask("key sk-12"), "key sk-12");
  assert.equal(secrets.foundIn(Buffer.from("key sk-12")), false);
});

test("values that are not strings are ignored", () => {
  const secrets = new SecretSet([7 as unknown as string, "abcdef"]);
  assert.equal(secrets.mask("7 abcdef"), "7 ***");
});

test("a secret right after another is released at once when nothing after it can start one", () => {
  // "q" inside "abq" may start the long secret, which the piece's end cuts
  // off; once "abq" is masked whole, the "w" after it is a whole secret too.
  const { released } = maskInPieces(["qwertyuiop", "abq", "w"], ["abqw", "!"]);
  assert.equal(released[0], "******");
  assert.equal(released[1], "!");
});

test("values that are null or undefined are ignored", () => {
  const secrets = new SecretSet([null, undefined, "abcdef"] as unknown as string[]);
  assert.equal(secrets.mask("null undefined abcdef"), "null undefined ***");
  assert.equal(new SecretSet([null] as unknown as string[]).empty, true);
});
