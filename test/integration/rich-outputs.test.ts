// Rich outputs of python code contexts (ExecutionResult.outputs): matplotlib
// figures as PNG, last values' _repr_png_/_repr_svg_/_repr_html_, their place
// in the text output, and the output limit. Runs in isol8:python-data, which
// the `before` hook builds when it is missing or out of date (as `isol8 setup
// --data-science` does); a failed build fails these tests.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { PYTHON_DATA_IMAGE } from "../../src/images/index.js";
import type { ExecutionResult, RichOutput, StreamEvent } from "../../src/types.js";
import { ensureDataImage } from "../fixtures/data-image.js";
import { engine } from "../helpers.js";

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
