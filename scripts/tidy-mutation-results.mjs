// Stryker writes the failures it saw into the incremental results with the
// paths of the machine that ran them (its sandbox folder, node_modules). The
// file is kept in the repository, so those paths are replaced by neutral
// names after each run; Stryker reuses results by file content and mutant,
// never by these messages.
import { readFileSync, writeFileSync } from "node:fs";

const file = "test/mutation/stryker-incremental.json";
const text = readFileSync(file, "utf8");
const tidy = text
  .replace(/(?:file:\/\/)?\/[^"\s\\]*?\.stryker-tmp\/sandbox-[\w-]+/g, "<sandbox>")
  .replace(/(?:file:\/\/)?\/[^"\s\\]*?\/node_modules\//g, "node_modules/")
  .replaceAll(process.cwd(), ".");
if (tidy !== text) writeFileSync(file, tidy);
