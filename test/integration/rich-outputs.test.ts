// Rich outputs of python code contexts (ExecutionResult.outputs): matplotlib
// figures as PNG, last values' _repr_png_/_repr_svg_/_repr_html_, their place
// in the text output, the output limit and the caps on outputs per cell. Runs
// in isol8:python-data, which the `before` hook builds when it is missing or
// out of date (as `isol8 setup --data-science` does); a failed build fails
// these tests.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { PYTHON_DATA_IMAGE } from "../../src/images/index.js";
import type { ExecutionResult, RichOutput, StreamEvent } from "../../src/types.js";
import { ensureDataImage } from "../fixtures/data-image.js";
import { engine } from "../support/engine.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The PNG's bytes, checked: signature, IHDR and a plausible size. */
function png(output: RichOutput | undefined): Buffer {
  assert.ok(output, "an output");
  assert.equal(output.type, "image/png");
  const bytes = Buffer.from(output.data, "base64");
  assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE);
  assert.equal(bytes.subarray(12, 16).toString("latin1"), "IHDR");
  assert.ok(bytes.readUInt32BE(16) > 100 && bytes.readUInt32BE(20) > 100, "width and height");
  assert.ok(bytes.length > 2000, `a real plot, not ${bytes.length} bytes`);
  return bytes;
}

/**
 * Python defining show(n): plt.show() of a figure whose "PNG" is the bytes
 * "figure n" (a line without axes, and no rendering, so a cell shows a
 * thousand in well under a second). The engine does not decode the images.
 */
const NUMBERED_FIGURES = [
  "import matplotlib.pyplot as plt",
  "from matplotlib.figure import Figure",
  "from matplotlib.lines import Line2D",
  "class Numbered(Figure):",
  "    def savefig(self, file, **kwargs):",
  "        file.write(b'figure %d' % self.n)",
  "def show(n):",
  "    figure = plt.figure(FigureClass=Numbered)",
  "    figure.n = n",
  "    figure.lines.append(Line2D([0], [1]))",
  "    plt.show()",
].join("\n");

/** The outputs of show(0) ... show(count - 1), each after `offset(i)` characters of stdout. */
function numbered(count: number, offset: (i: number) => number): RichOutput[] {
  return Array.from({ length: count }, (_, i) => ({
    type: "image/png",
    data: Buffer.from(`figure ${i}`).toString("base64"),
    stdoutOffset: offset(i),
  }));
}

describe("rich outputs of python contexts (isol8:python-data)", () => {
  before(async () => {
    assert.equal(await ensureDataImage(), PYTHON_DATA_IMAGE);
  });
  const engines = {
    default: engine({ image: PYTHON_DATA_IMAGE }),
    secrets: engine({ image: PYTHON_DATA_IMAGE, secrets: { API_TOKEN: "tok-8c1f29e0" } }),
    small: engine({ image: PYTHON_DATA_IMAGE, maxOutputSize: 4096 }),
  };
  const isol8 = (): DockerIsol8 => engines.default;

  async function context(kind: keyof typeof engines = "default") {
    const engine = engines[kind];
    const { id } = await engine.createContext({ runtime: "python" });
    return {
      call: (code: string): Promise<ExecutionResult> =>
        engine.execute({ runtime: "python", code, contextId: id }),
      close: () => engine.closeContext(id),
    };
  }

  test("a matplotlib plot comes back as a PNG, after the cell's text; the figure is closed", async () => {
    const { call, close } = await context();
    const result = await call(
      "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9, 16])\nplt.title('squares')\nprint('plotted')",
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, "plotted\n");
    assert.equal(result.outputs?.length, 1, JSON.stringify(result.outputs?.map((o) => o.type)));
    png(result.outputs?.[0]);
    assert.equal(result.outputs?.[0]?.stdoutOffset, "plotted\n".length);
    assert.equal(result.value, undefined);

    const next = await call(
      "import matplotlib\nprint(matplotlib.get_backend())\nplt.get_fignums()",
    );
    assert.equal(next.outputs, undefined, "a figure is shown once, then closed");
    assert.equal(next.value, "[]");
    assert.equal(next.stdout, "module://isol8_inline\n");
    await close();
  });

  test("plt.show() inside a cell sends the figures at that point, in order with stdout", async () => {
    const { call, close } = await context();
    const result = await call(
      [
        "import matplotlib.pyplot as plt",
        "print('first')",
        "plt.plot([1, 2, 3])",
        "plt.show()",
        "print('second')",
        "plt.figure()",
        "plt.bar(['a', 'b'], [3, 5])",
        "plt.show()",
        "print('third')",
        "plt.figure()",
        "plt.scatter([1, 2], [2, 1])",
      ].join("\n"),
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, "first\nsecond\nthird\n");
    const outputs = result.outputs ?? [];
    assert.deepEqual(
      outputs.map((o) => [o.type, o.stdoutOffset]),
      [
        ["image/png", "first\n".length],
        ["image/png", "first\nsecond\n".length],
        ["image/png", "first\nsecond\nthird\n".length],
      ],
    );
    const pictures = outputs.map(png);
    assert.notDeepEqual(pictures[0], pictures[1]);

    // A figure shown before an error still comes back; one left open is shown too.
    const failed = await call(
      "plt.plot([5, 1]); plt.show()\nplt.plot([1, 5])\nraise ValueError('x')",
    );
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stderr, /ValueError: x\n$/);
    assert.equal(failed.outputs?.length, 2);
    failed.outputs?.forEach(png);
    await close();
  });

  test("streamed: outputs arrive in the exit event's result, offsets into the joined stdout events", async () => {
    const engine = isol8();
    const { id } = await engine.createContext({ runtime: "python" });
    const events: StreamEvent[] = [];
    for await (const event of engine.executeStream({
      runtime: "python",
      contextId: id,
      code: "import matplotlib.pyplot as plt\nprint('a' * 10)\nplt.plot([1]); plt.plot([2, 3]); plt.show()\nprint('b')",
    }))
      events.push(event);
    assert.deepEqual(
      [...new Set(events.map((e) => e.type))].sort(),
      ["exit", "stdout"],
      "no new event type",
    );
    const stdout = events.flatMap((e) => (e.type === "stdout" ? [e.data] : [])).join("");
    const exit = events.at(-1);
    assert.equal(exit?.type, "exit");
    const outputs = exit?.type === "exit" ? (exit.result.outputs ?? []) : [];
    assert.equal(outputs.length, 1);
    png(outputs[0]);
    assert.equal(stdout.slice(0, outputs[0]?.stdoutOffset), `${"a".repeat(10)}\n`);
    assert.equal(stdout.slice(outputs[0]?.stdoutOffset), "b\n");
    await engine.closeContext(id);
  });

  test("a last value's rich form: PNG before SVG before HTML, with its text value too", async () => {
    const { call, close } = await context();
    await call(
      [
        "import base64, io",
        "import matplotlib.pyplot as plt",
        "class Html:",
        "    def _repr_html_(self): return '<b>bold</b>'",
        "    def __repr__(self): return 'Html()'",
        "class Svg(Html):",
        "    def _repr_svg_(self): return '<svg xmlns=\"http://www.w3.org/2000/svg\"/>'",
        "class Png(Svg):",
        "    def _repr_png_(self):",
        "        fig = plt.figure(); fig.gca().plot([1, 2]); buf = io.BytesIO()",
        "        fig.savefig(buf, format='png'); plt.close(fig); return buf.getvalue()",
        "class NoneHtml:",
        "    def _repr_html_(self): return None",
        "class Broken:",
        "    def _repr_html_(self): raise RuntimeError('no html')",
      ].join("\n"),
    );
    const html = await call("print('before')\nHtml()");
    assert.equal(html.value, "Html()");
    assert.deepEqual(html.outputs, [
      { type: "text/html", data: "<b>bold</b>", stdoutOffset: "before\n".length },
    ]);
    const svg = await call("Svg()");
    assert.deepEqual(
      svg.outputs?.map((o) => [o.type, o.data]),
      [["image/svg+xml", '<svg xmlns="http://www.w3.org/2000/svg"/>']],
    );
    const image = await call("Png()");
    assert.equal(image.outputs?.length, 1);
    png(image.outputs?.[0]);

    assert.equal((await call("NoneHtml()")).outputs, undefined);
    assert.equal((await call("Html")).outputs, undefined, "a class is not shown by its methods");
    const broken = await call("Broken()");
    assert.equal(broken.exitCode, 0);
    assert.equal(broken.outputs, undefined);
    assert.match(broken.stderr, /Broken\._repr_html_\(\) failed: RuntimeError\('no html'\)/);

    const frame = await call("import pandas as pd\npd.DataFrame({'city': ['Oslo'], 'n': [3]})");
    assert.equal(frame.exitCode, 0, frame.stderr);
    assert.match(frame.value ?? "", /city\s+n\n0\s+Oslo\s+3/);
    assert.equal(frame.outputs?.[0]?.type, "text/html");
    assert.match(frame.outputs?.[0]?.data ?? "", /<table[\s\S]*<td>Oslo<\/td>/);

    const figure = await call(
      "from matplotlib.figure import Figure\nf = Figure()\nf.add_subplot().plot([3, 1, 2])\nf",
    );
    assert.match(figure.value ?? "", /^<Figure size/);
    assert.equal(figure.outputs?.length, 1);
    png(figure.outputs?.[0]);
    await close();
  });

  test("secrets are masked in HTML and SVG; outputs over maxOutputSize are left out whole", async () => {
    const masked = await context("secrets");
    const html = await masked.call(
      `import os\nclass T:\n    def _repr_html_(self): return '<i>' + os.environ['API_TOKEN'] + '</i>'\nT()`,
    );
    assert.deepEqual(
      html.outputs?.map((o) => o.data),
      ["<i>***</i>"],
    );
    await masked.close();

    const small = await context("small");
    const cut = await small.call(
      "import matplotlib.pyplot as plt\nprint('x')\nplt.plot(range(100))\nclass H:\n    def _repr_html_(self): return '<p>fits</p>'\nH()",
    );
    assert.equal(cut.exitCode, 0, cut.stderr);
    assert.equal(cut.truncated, true);
    assert.deepEqual(cut.outputs, [{ type: "text/html", data: "<p>fits</p>", stdoutOffset: 2 }]);
    await small.close();
  });

  test("a cell keeps its first 256 rich outputs, in order, marks itself truncated, and the context goes on", async () => {
    const { call, close } = await context();
    const setup = await call(`${NUMBERED_FIGURES}\nkept = 'still here'`);
    assert.equal(setup.exitCode, 0, setup.stderr);
    // Output i comes after the lines "0\n" ... "i\n".
    const lines = (count: number) => Array.from({ length: count }, (_, i) => `${i}\n`).join("");
    const after = (i: number) => lines(i + 1).length;

    const full = await call("for i in range(256):\n    print(i)\n    show(i)");
    assert.equal(full.exitCode, 0, full.stderr);
    assert.equal(full.truncated, false, "256 is not over the cap");
    assert.deepEqual(full.outputs, numbered(256, after));

    const over = await call("for i in range(300):\n    print(i)\n    show(i)");
    assert.equal(over.exitCode, 0, over.stderr);
    assert.equal(over.stderr, "");
    assert.equal(over.stdout, lines(300), "the text is all there");
    assert.equal(over.truncated, true);
    assert.equal(over.contextRestarted, undefined);
    assert.deepEqual(over.outputs, numbered(256, after), "the first 256, in order");

    // The cap is per cell; the interpreter and its state are the same.
    const next = await call("show(7)\nkept");
    assert.equal(next.exitCode, 0, next.stderr);
    assert.equal(next.value, "'still here'");
    assert.equal(next.truncated, false);
    assert.equal(next.contextRestarted, undefined);
    assert.deepEqual(next.outputs, [
      { type: "image/png", data: Buffer.from("figure 7").toString("base64"), stdoutOffset: 0 },
    ]);
    await close();
  });

  test("a cell announcing more than 1024 rich outputs has its interpreter restarted, and is told its state is lost", async () => {
    const engine = isol8();
    const { id } = await engine.createContext({ runtime: "python" });
    const call = (code: string) => engine.execute({ runtime: "python", code, contextId: id });
    const setup = await call(`${NUMBERED_FIGURES}\nkept = 'still here'`);
    assert.equal(setup.exitCode, 0, setup.stderr);

    const events: StreamEvent[] = [];
    for await (const event of engine.executeStream({
      runtime: "python",
      contextId: id,
      code: "for i in range(1100):\n    show(i)\nprint('all shown')",
    }))
      events.push(event);
    const exit = events.at(-1);
    assert.equal(exit?.type, "exit");
    const result = exit?.type === "exit" ? exit.result : undefined;
    assert.equal(result?.contextRestarted, true);
    assert.equal(result?.exitCode, 137, "killed");
    assert.equal(result?.truncated, true);
    assert.equal(result?.value, undefined);
    // What came before the kill is kept, up to the cap; the cell never printed.
    assert.deepEqual(
      result?.outputs,
      numbered(256, () => 0),
    );
    const told = events.slice(0, -1);
    assert.equal(told.length, 2, JSON.stringify(told));
    assert.deepEqual(told[0], {
      type: "error",
      data: "the context's interpreter showed more than 1024 rich outputs in one cell; it was restarted and its state is lost",
    });
    assert.equal(told[1]?.type, "error");
    assert.match(told[1]?.type === "error" ? told[1].data : "", /^output truncated at \d+ bytes$/);

    // A fresh interpreter: the state is gone, the notice is not repeated, calls work.
    const lost = await call("kept");
    assert.equal(lost.exitCode, 1);
    assert.match(lost.stderr, /NameError: name 'kept' is not defined\n$/);
    assert.equal(lost.contextRestarted, undefined);
    const next = await call(`${NUMBERED_FIGURES}\nshow(3)\n6 * 7`);
    assert.equal(next.exitCode, 0, next.stderr);
    assert.equal(next.value, "42");
    assert.equal(next.truncated, false);
    assert.equal(next.contextRestarted, undefined);
    assert.deepEqual(next.outputs, [
      { type: "image/png", data: Buffer.from("figure 3").toString("base64"), stdoutOffset: 0 },
    ]);
    await engine.closeContext(id);
  });

  test("plain runs use the image too (matplotlib draws with Agg; no rich outputs)", async () => {
    const result = await isol8().execute({
      runtime: "python",
      code: "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt, numpy, pandas\nplt.plot(numpy.arange(3))\nplt.savefig('/tmp/p.png')\nprint(pandas.__version__)",
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^\d+\.\d+/);
    assert.equal(result.outputs, undefined);
  });
});
