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
