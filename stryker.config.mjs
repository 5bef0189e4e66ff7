// Mutation testing of the security core (npm run test:mutation): Stryker
// changes these modules one small edit at a time and runs the unit tests
// that reach each edit; a change no test notices is a behaviour no test
// asserts. Only pure logic is mutated, so the fast unit tests in test/unit
// decide every mutant; what needs Docker is left to the other suites.
import { readFileSync } from "node:fs";

/**
 * The lines of one function of a file, as a mutate range: the /sandbox path
 * rule sits next to the sandbox's layout constants (sandbox-layout.ts), and
 * its callers next to code that needs a container (session-files.ts) or that
 * checks everything else of a request (request.ts). Found by name, so the
 * range follows the function when the file changes.
 */
function functionLines(file, name) {
  const lines = readFileSync(file, "utf8").split("\n");
  const start = lines.findIndex((line) => new RegExp(`^(export )?function ${name}\\(`).test(line));
  const end = lines.findIndex((line, i) => i > start && line === "}");
  if (start < 0 || end < 0) throw new Error(`stryker.config.mjs: no function ${name} in ${file}`);
  return `${file}:${start + 1}-${end + 1}`;
}

export default {
  testRunner: "tap",
  tap: {
    // The suites of the modules below; other unit tests only reach them in passing.
    testFiles: [
      "test/unit/bounded-json.test.ts",
      "test/unit/egress-policy.test.ts",
      "test/unit/loopback.test.ts",
      "test/unit/request-files-workdir.test.ts",
      "test/unit/sandbox-paths.test.ts",
      "test/unit/seccomp-profile.test.ts",
      "test/unit/secret-encodings.test.ts",
      "test/unit/secret-masker.test.ts",
      "test/unit/server-policy.test.ts",
      "test/unit/server-schemas.test.ts",
    ],
    nodeArgs: ["--import", "tsx", "--test-reporter=tap", "-r", "{{hookFile}}", "{{testFile}}"],
  },
  // Per test file: a mutant runs only the files that reached it.
  coverageAnalysis: "perTest",
  concurrency: 2,
  // A mutant that loops is stopped soon after the tests it runs would normally end.
  timeoutMS: 2000,
  mutate: [
    "src/engine/seccomp.ts",
    "src/server/seccomp-profiles.ts",
    "src/network/policy.ts",
    "src/network/loopback.ts",
    functionLines("src/sandbox-layout.ts", "sandboxPlace"),
    functionLines("src/engine/session-files.ts", "sandboxPath"),
    functionLines("src/engine/request.ts", "workdirPath"),
    functionLines("src/engine/request.ts", "inSandbox"),
    "src/output/secret-forms.ts",
    "src/output/secret-masker.ts",
    "src/output/redact.ts",
    "src/wire/schemas.ts",
    "src/server/bounded-json.ts",
    "src/server/policy.ts",
  ],
  // Incremental mode: a run starts from the results of the last one, kept in
  // the repository (incrementalFile, written anew by every run) so that a clean
  // clone starts from them too. Stryker diffs each mutated file and each test
  // file against the copy stored in that file. A mutant is tested again when
  // the code it changes differs, or when its tests changed: a killed mutant
  // keeps its result while the test file that killed it is unchanged, any
  // other while no new or changed test file reaches it. The tap runner reports
  // one test per file, so editing a test file re-tests every mutant that file
  // reaches. Stryker does not look at anything else: a change to a module the
  // mutated code or the tests import without it being mutated (errors.ts, say),
  // to the Stryker version or to this file's options does not re-test old
  // results; `npm run test:mutation -- --force` tests everything again. Commit
  // the file a run rewrote along with the change it tested.
  // Measured on two cores shared with other work (load about 10): a full run
  // took 32 minutes (about 10 on an idle machine); with nothing changed, 15 s
  // (1404 of 1495 results reused; the dry run still runs every test file
  // once); after a change to one test file (loopback), 38 s (1322 reused).
  incremental: true,
  incrementalFile: "test/mutation/stryker-incremental.json",
  thresholds: { high: 95, low: 90, break: 90 },
  reporters: ["clear-text", "dots", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  ignorePatterns: ["dist", "reports", ".isol8-build", ".scratch", "bench"],
};
