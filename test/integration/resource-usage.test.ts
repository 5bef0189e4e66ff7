// resourceUsage's CPU figures against real work: a program that burns a
// known amount of CPU time (measured by itself, so a busy machine changes
// only how long it takes) and one that sleeps, in a fresh container, a
// session's, and a code context.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ExecutionResult, ExecutionSummary } from "../../src/types.js";
import { engine } from "../support/engine.js";

/**
 * Python spinning until it has used `seconds` of CPU time, then printing the
 * CPU time it counted from its first line (the interpreter may have been
 * started before the run, and what it spent starting is not the run's).
 */
const spin = (seconds: number) =>
  [
    "import time",
    "t0 = time.process_time()",
    `while time.process_time() - t0 < ${seconds}: pass`,
    "print(round((time.process_time() - t0) * 1000))",
  ].join("\n");
const SLEEP =
  "import time\nt0 = time.process_time()\ntime.sleep(1.5)\nprint(round((time.process_time() - t0) * 1000))";

type Usage = NonNullable<ExecutionResult["resourceUsage"]>;

function usage(result: Pick<ExecutionSummary, "resourceUsage" | "exitCode">): Usage {
  assert.equal(result.exitCode, 0);
  assert.ok(result.resourceUsage, "the result has resourceUsage");
  return result.resourceUsage;
}

/**
 * What holds for any run: CPU time at least what the program itself counted,
 * and no more than one core (the default limit) for as long as the run took;
 * cpuPercent is CPU time over the run's wall time, which is within durationMs.
 */
function assertPlausible(result: ExecutionResult, label: string): Usage {
  const u = usage(result);
  const ownMs = Number(result.stdout.trim());
  assert.ok(Number.isFinite(ownMs), `${label}: ${result.stdout}`);
  assert.ok(
    u.cpuTimeMs >= ownMs - 5,
    `${label}: ${u.cpuTimeMs} ms < the program's own ${ownMs} ms`,
  );
  // A cgroup's quota lets a burst run a little over a core.
  assert.ok(u.cpuTimeMs <= result.durationMs * 1.1 + 50, `${label}: ${JSON.stringify(u)}`);
  assert.ok(
    u.cpuPercent >= (u.cpuTimeMs / result.durationMs) * 100 - 0.1,
    `${label}: ${u.cpuPercent}% for ${u.cpuTimeMs} ms in ${result.durationMs} ms`,
  );
  assert.ok(u.cpuPercent <= 115, `${label}: ${u.cpuPercent}% on one CPU`);
  return u;
}

describe("resourceUsage: CPU time and percent move with the work", () => {
  for (const mode of ["ephemeral", "persistent"] as const)
    test(`${mode}: a spinning program's CPU time grows with its work; a sleeping one's stays small`, async () => {
      const isol8 = engine({ mode });
      const short = assertPlausible(
        await isol8.execute({ runtime: "python", code: spin(0.4) }),
        "0.4 s spin",
      );
      const long = assertPlausible(
        await isol8.execute({ runtime: "python", code: spin(1.6) }),
        "1.6 s spin",
      );
      const asleep = assertPlausible(
        await isol8.execute({ runtime: "python", code: SLEEP }),
        "1.5 s sleep",
      );
      assert.ok(short.cpuTimeMs >= 400, JSON.stringify(short));
      assert.ok(long.cpuTimeMs >= 1600, JSON.stringify(long));
      assert.ok(
        long.cpuTimeMs - short.cpuTimeMs >= 1000,
        `${short.cpuTimeMs} then ${long.cpuTimeMs}`,
      );
      assert.ok(asleep.cpuTimeMs < 500, JSON.stringify(asleep));
      assert.ok(asleep.cpuPercent < 30, JSON.stringify(asleep));
      assert.ok(
        long.cpuPercent > asleep.cpuPercent,
        `${long.cpuPercent}% vs ${asleep.cpuPercent}%`,
      );
      for (const u of [short, long, asleep]) assert.equal(u.networkBytesOut, 0, "no network");
    });

  test("a code context's cell: the same", async () => {
    const isol8 = engine();
    const context = await isol8.createContext({ runtime: "python" });
    const cell = async (seconds: number) => {
      // process_time counts the interpreter's whole life, so the cell spins
      // until it has used `seconds` more than when it began.
      const result = await isol8.execute({
        runtime: "python",
        contextId: context.id,
        code: [
          "import time",
          "t0 = time.process_time()",
          `while time.process_time() - t0 < ${seconds}: pass`,
        ].join("\n"),
      });
      return usage(result);
    };
    const short = await cell(0.4);
    const long = await cell(1.6);
    const asleep = usage(
      await isol8.execute({ runtime: "python", contextId: context.id, code: "time.sleep(1.5)" }),
    );
    // The cell's CPU time comes from os.times(), in clock ticks (10 ms).
    assert.ok(short.cpuTimeMs >= 380, JSON.stringify(short));
    assert.ok(long.cpuTimeMs >= 1580, JSON.stringify(long));
    assert.ok(
      long.cpuTimeMs - short.cpuTimeMs >= 1000,
      `${short.cpuTimeMs} then ${long.cpuTimeMs}`,
    );
    assert.ok(asleep.cpuTimeMs < 500, JSON.stringify(asleep));
    // How much of the wall time the spin got depends on the machine's load;
    // that it got more than the sleep did, and no more than a core, does not.
    assert.ok(
      long.cpuPercent > asleep.cpuPercent,
      `${JSON.stringify(long)} vs ${JSON.stringify(asleep)}`,
    );
    assert.ok(long.cpuPercent <= 115, JSON.stringify(long));
    assert.ok(asleep.cpuPercent < 30, JSON.stringify(asleep));
  });
});
