/** Small helpers shared by the benchmarks: timing, percentiles, a plain-text table. */
import { execFileSync, spawnSync } from "node:child_process";

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** Wall time of one command in ms; throws if it fails or prints something unexpected. */
export function timeCommand(argv: string[], expectStdout?: string): number {
  const [command, ...args] = argv as [string, ...string[]];
  const started = performance.now();
  const result = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const elapsed = performance.now() - started;
  if (result.status !== 0 || (expectStdout !== undefined && result.stdout !== expectStdout)) {
    throw new Error(
      `${argv.join(" ")} failed (${result.status}): ${result.stdout}${result.stderr}`,
    );
  }
  return elapsed;
}

/** How long `work` took, in ms, with its result. */
export async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await work();
  return [performance.now() - started, result];
}

export function printTable(header: string[], rows: (string | number)[][]): string {
  const cells = [
    header,
    ...rows.map((r) => r.map((c) => (typeof c === "number" ? c.toFixed(1) : c))),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) =>
    `| ${r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const text = [
    line(cells[0] ?? []),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...cells.slice(1).map(line),
  ].join("\n");
  console.log(text);
  return text;
}

/**
 * `docker exec` of `argv` into a running container of `image`, `runs` times:
 * the baseline for a warm run. The container is removed afterwards.
 */
export function dockerExecSamples(image: string, argv: string[], runs: number): number[] {
  const id = execFileSync(
    "docker",
    ["run", "-d", "--rm", "--network", "none", image, "sleep", "600"],
    { encoding: "utf8" },
  ).trim();
  try {
    return Array.from({ length: runs }, () => timeCommand(["docker", "exec", id, ...argv], "hi\n"));
  } finally {
    execFileSync("docker", ["rm", "-f", id]);
  }
}

/**
 * A target a benchmark states for one of its measurements. Scripts list their
 * targets as data at their top, record measurements under each target's
 * `name`, and print the verdicts with {@link printVerdicts}.
 */
export interface Target {
  /** The key the script records the measurement under. */
  name: string;
  /** What is measured, as the verdict table shows it. */
  quantity: string;
  /** The bound the measurement has to reach. */
  limit: number;
  /** Unit of `limit` and of the measurement: "x" is a ratio, "" a plain count. */
  unit: string;
  /** Whether lower or higher measurements are better (and `limit` is a maximum or a minimum). */
  better: "lower" | "higher";
}

/** A target whose measurement has to stay at or under `limit`. */
export function atMost(name: string, quantity: string, limit: number, unit: string): Target {
  return { name, quantity, limit, unit, better: "lower" };
}

/** A target whose measurement has to reach at least `limit`. */
export function atLeast(name: string, quantity: string, limit: number, unit: string): Target {
  return { name, quantity, limit, unit, better: "higher" };
}

export type Verdict = "met" | "missed";

/**
 * A target is met only by a number that reaches it: a missing measurement
 * misses, and so does NaN (an empty sample), which compares false either way.
 */
export function verdict(target: Target, measured: number | undefined): Verdict {
  if (measured === undefined) return "missed";
  const met = target.better === "lower" ? measured <= target.limit : measured >= target.limit;
  return met ? "met" : "missed";
}

function withUnit(value: number, unit: string): string {
  // A ratio gets three decimals, so one just over its limit does not print as equal to it;
  // anything else three significant digits, whole numbers from 100 up, never an exponent.
  if (unit === "x") return `${value.toFixed(3)}x`;
  const text = Math.abs(value) >= 100 ? value.toFixed(0) : String(Number(value.toPrecision(3)));
  return unit ? `${text} ${unit}` : text;
}

/**
 * Prints the verdict table: one row per target, its measurement and met or
 * missed. Measurements no target names are left out (the script's own tables
 * show them); a target nothing was recorded for shows "not measured", missed.
 */
export function printVerdicts(
  targets: readonly Target[],
  measured: ReadonlyMap<string, number>,
): void {
  if (targets.length === 0) {
    console.log("\nTargets: none stated for this benchmark (it only measures).");
    return;
  }
  console.log("\nTargets, checked against the measurements above:\n");
  printTable(
    ["target", "measured", "verdict"],
    targets.map((t) => {
      const value = measured.get(t.name);
      return [
        `${t.quantity} ${t.better === "lower" ? "<=" : ">="} ${t.unit === "x" ? `${t.limit}x` : withUnit(t.limit, t.unit)}`,
        value === undefined ? "not measured" : withUnit(value, t.unit),
        verdict(t, value),
      ];
    }),
  );
}
