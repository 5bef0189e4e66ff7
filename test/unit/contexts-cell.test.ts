import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Cell,
  MAX_ANNOUNCED_OUTPUTS,
  MAX_RICH_OUTPUTS,
  type Output,
} from "../../src/contexts/cell.js";
import { SecretSet } from "../../src/output/secret-masker.js";

/** A cell with output limit `limit`, and the text it emitted so far per stream. */
function cell(limit: number, secrets: string[] = []) {
  const emitted: Output[] = [];
  const c = new Cell(1, (event) => emitted.push(event), new SecretSet(secrets), limit);
  const text = (type: Output["type"]) =>
    emitted
      .filter((event) => event.type === type)
      .map((event) => event.data)
      .join("");
  return { cell: c, emitted, text };
}

describe("a cell's text output and its limit", () => {
  test("each stream is cut at the limit on its own, and the cell is marked truncated", () => {
    const { cell: c, text } = cell(5);
    c.output("stdout", Buffer.from("abc"));
    assert.equal(c.truncated, false);
    c.output("stdout", Buffer.from("defgh"));
    c.output("stderr", Buffer.from("12345"));
    c.output("stdout", Buffer.from("more"));
    c.close();
    assert.equal(text("stdout"), "abcde");
    assert.equal(text("stderr"), "12345");
    assert.equal(c.truncated, true);
  });

  test("one write that runs past the limit is cut and marks the cell truncated", () => {
    const { cell: c, text } = cell(4);
    c.output("stdout", Buffer.from("123456"));
    c.close();
    assert.equal(text("stdout"), "1234");
    assert.equal(c.truncated, true);
  });

  test("output exactly at the limit is not truncated", () => {
    const { cell: c, text } = cell(4);
    c.output("stderr", Buffer.from("ab"));
    c.output("stderr", Buffer.from("cd"));
    c.close();
    assert.equal(text("stderr"), "abcd");
    assert.equal(c.truncated, false);
  });

  test("text is masked across pieces, and what was held back comes out at close", () => {
    const { cell: c, text } = cell(1000, ["hunter2"]);
    c.output("stdout", Buffer.from("pw=hun"));
    assert.equal(text("stdout"), "pw=");
    c.output("stdout", Buffer.from("ter2 ok hu"));
    c.close();
    assert.equal(text("stdout"), "pw=*** ok hu");
  });

  test("a UTF-8 character split between records comes out whole", () => {
    const { cell: c, text } = cell(100);
    const euro = Buffer.from("€");
    c.output("stdout", euro.subarray(0, 1));
    c.output("stdout", euro.subarray(1));
    c.close();
    assert.equal(text("stdout"), "€");
  });
});

describe("a cell's value", () => {
  test("is cut at the limit and masked", () => {
    const { cell: c } = cell(10, ["s3cr3t"]);
    c.addValue(Buffer.from("'s3cr3t'"));
    c.addValue(Buffer.from("+tail"));
    assert.equal(c.truncated, true);
    assert.equal(c.close(), "'***'+t");
  });

  test("is undefined when the kernel sent none", () => {
    assert.equal(cell(10).cell.close(), undefined);
  });

  test("a value exactly at the limit is whole", () => {
    const { cell: c } = cell(3);
    c.addValue(Buffer.from("123"));
    c.addValue(Buffer.from(""));
    assert.equal(c.truncated, false);
    assert.equal(c.close(), "123");
  });
});

describe("a cell's rich outputs", () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);

  test("parts add up to an output, placed at the stdout written before it", () => {
    const { cell: c } = cell(1000);
    c.output("stdout", Buffer.from("before\n"));
    assert.equal(c.addOutput(1, "image/png", png.length, png.subarray(0, 3)), undefined);
    assert.equal(c.addOutput(1, undefined, undefined, png.subarray(3)), undefined);
    c.output("stdout", Buffer.from("after\n"));
    assert.equal(c.addOutput(2, "text/html", 4, Buffer.from("<b/>")), undefined);
    c.close();
    assert.deepEqual(c.outputs(), [
      { type: "image/png", data: png.toString("base64"), stdoutOffset: 7 },
      { type: "text/html", data: "<b/>", stdoutOffset: 13 },
    ]);
    assert.equal(c.truncated, false);
  });

  test("an output whose parts do not add up to its size is dropped", () => {
    const { cell: c } = cell(1000);
    c.addOutput(1, "image/png", 10, Buffer.from("short"));
    c.addOutput(2, "image/svg+xml", 2, Buffer.from("<svg/>"));
    c.addOutput(3, "text/html", 2, Buffer.from("ok"));
    c.close();
    assert.deepEqual(
      c.outputs().map((output) => output.data),
      ["ok"],
    );
  });

  test("outputs share the output limit; one that does not fit is dropped whole", () => {
    const { cell: c } = cell(10);
    c.addOutput(1, "text/html", 6, Buffer.from("first!"));
    c.addOutput(2, "text/html", 6, Buffer.from("second"));
    c.addOutput(3, "text/html", 4, Buffer.from("last"));
    c.close();
    assert.deepEqual(
      c.outputs().map((output) => output.data),
      ["first!", "last"],
    );
    assert.equal(c.truncated, true);
  });

  test("a first part with an unknown type or a bad size asks for a restart", () => {
    const { cell: c } = cell(1000);
    const bad = "broke the context protocol (bad output record)";
    assert.equal(c.addOutput(1, "application/x-sh", 1, Buffer.from("x")), bad);
    assert.equal(c.addOutput(1, "image/png", -1, Buffer.from("")), bad);
    assert.equal(c.addOutput(1, "image/png", 1.5, Buffer.from("")), bad);
    assert.equal(c.addOutput(1, "image/png", "3", Buffer.from("")), bad);
    assert.equal(c.addOutput(1, "image/png", 2 ** 53, Buffer.from("")), bad);
    assert.equal(c.addOutput(1, "image/png", 0, Buffer.from("")), undefined);
  });

  test("past the kept count outputs are dropped; past the announced count the kernel is restarted", () => {
    const { cell: c } = cell(1 << 20);
    for (let index = 1; index <= MAX_ANNOUNCED_OUTPUTS; index++)
      assert.equal(c.addOutput(index, "text/html", 1, Buffer.from("x")), undefined);
    assert.equal(
      c.addOutput(MAX_ANNOUNCED_OUTPUTS + 1, "text/html", 1, Buffer.from("x")),
      `showed more than ${MAX_ANNOUNCED_OUTPUTS} rich outputs in one cell`,
    );
    c.close();
    assert.equal(c.outputs().length, MAX_RICH_OUTPUTS);
    assert.equal(c.truncated, true);
  });

  test("a PNG holding a secret is withheld; HTML is masked", () => {
    const { cell: c } = cell(1000, ["topsecret"]);
    const leaky = Buffer.from("PNG topsecret");
    c.addOutput(1, "image/png", leaky.length, leaky);
    c.addOutput(2, "text/html", 16, Buffer.from("<p>topsecret</p>"));
    c.close();
    assert.deepEqual(c.outputs(), [{ type: "text/html", data: "<p>***</p>", stdoutOffset: 0 }]);
    assert.equal(c.withheldImages, 1);
  });
});

describe("a cell's end", () => {
  test("the first end counts; later ones change nothing", async () => {
    const { cell: c } = cell(10);
    assert.equal(c.finished, false);
    c.finish({ kind: "done", status: "ok", exitCode: 0, cpuMs: 1, rssKb: 2 });
    c.finish({ kind: "closed" });
    assert.equal(c.finished, true);
    assert.deepEqual(await c.ended.promise, {
      kind: "done",
      status: "ok",
      exitCode: 0,
      cpuMs: 1,
      rssKb: 2,
    });
  });
});
