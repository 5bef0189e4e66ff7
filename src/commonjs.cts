// The package's CommonJS entry (the `require` condition of its exports).
// isol8 is an ES module. Node 20.19+ and 22.12+ can require() an ES module
// whose graph has no top-level await, and give the same module instance to
// require() and import, so this entry hands the ES module over as it is:
// no second, CommonJS build whose classes would differ from the ESM ones
// (an error from one would fail `instanceof` against the other). Where
// Node cannot, the error says what to do instead.

function loadIsol8(): typeof import("./index.js") {
  try {
    return require("./index.js");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_REQUIRE_ESM") throw error;
    throw new Error(
      `isol8 is an ES module, and this Node.js (${process.version}) cannot load it with require(). ` +
        `Use import { DockerIsol8 } from "isol8" in an ES module, ` +
        `or const { DockerIsol8 } = await import("isol8") from CommonJS, ` +
        "or run Node.js 20.19+ or 22.12+, where require() of an ES module works.",
      { cause: error },
    );
  }
}

export = loadIsol8();
