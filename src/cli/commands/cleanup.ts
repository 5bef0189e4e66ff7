import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { assertDockerReachable, createDockerClient } from "../../backend/docker/client.js";
import type { DockerClient } from "../../backend/docker/engine-api/client.js";
import { MANAGED_FILTER } from "../../engine/labels.js";
import { thisMachine } from "../../engine/owner.js";
import { type CleanupPlan, keptReason, planCleanup, removedReason } from "../cleanup-plan.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";

interface CleanupFlags {
  force?: boolean;
  all?: boolean;
  images?: boolean;
}

export function registerCleanup(program: Command): void {
  const cleanup = program
    .command("cleanup")
    .description(
      "Remove isol8's containers whose isol8 process is gone (with --all every one, with --images its images too); only resources labelled isol8.managed=true",
    )
    .option("--force", "do not ask for confirmation (what is removed is still listed first)")
    .option(
      "--all",
      "also remove containers whose owner still runs (a server's sessions, runs in progress) or is on another host",
    )
    .option("--images", "also remove isol8 images")
    .action(async (flags: CleanupFlags) => {
      process.exitCode = await cleanupCommand(flags);
    });
  addExamples(cleanup, [
    { line: "isol8 cleanup", does: "list what is left over, then ask" },
    { line: "isol8 cleanup --force", does: "remove leftovers without asking" },
    { line: "isol8 cleanup --all --images", does: "remove every isol8 container and image" },
  ]);
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** The plan for this host's isol8 containers: listed by Docker, sorted by their owners. */
export async function containersToClean(
  docker: DockerClient,
  all: boolean,
  /** Labels selected on top of isol8's (a test narrows the plan to containers of its own). */
  labels: readonly string[] = [],
): Promise<CleanupPlan> {
  const label = [...MANAGED_FILTER.label, ...labels];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  return planCleanup(containers, thisMachine, all);
}

/** Removes the plan's containers (force: running ones too); the number that could not be removed. */
export async function removeContainers(docker: DockerClient, plan: CleanupPlan): Promise<number> {
  let failed = 0;
  for (const { container } of plan.remove) {
    await docker
      .getContainer(container.Id)
      .remove({ force: true })
      .catch((error: Error) => {
        failed++;
        process.stderr.write(
          `isol8: could not remove container ${container.Id.slice(0, 12)}: ${error.message}\n`,
        );
      });
  }
  return failed;
}

/** One line per kept reason: `kept 3 container(s): its isol8 process is running`. */
function keptLines(plan: CleanupPlan): string[] {
  const counts = new Map<string, number>();
  for (const { owner } of plan.keep) {
    const why = keptReason(owner);
    counts.set(why, (counts.get(why) ?? 0) + 1);
  }
  return [...counts].map(([why, n]) => `kept ${n} container(s): ${why} (--all removes them)`);
}

async function cleanupCommand(flags: CleanupFlags): Promise<number> {
  try {
    const docker = createDockerClient();
    await assertDockerReachable(docker);
    const plan = await containersToClean(docker, flags.all ?? false);
    const images = flags.images ? await docker.listImages({ filters: MANAGED_FILTER }) : [];
    for (const { container: c, owner } of plan.remove)
      process.stdout.write(
        `container ${c.Id.slice(0, 12)} ${c.Image} ${c.State} ${removedReason(owner)}\n`,
      );
    for (const i of images)
      process.stdout.write(`image     ${i.Id.slice(7, 19)} ${(i.RepoTags ?? []).join(",")}\n`);
    for (const line of keptLines(plan)) process.stdout.write(`${line}\n`);
    if (!plan.remove.length && !images.length) {
      process.stdout.write("nothing to remove\n");
      return 0;
    }
    if (!flags.force) {
      if (!process.stdin.isTTY)
        throw new CliError("refusing to remove without confirmation: not a terminal; use --force");
      if (
        !(await confirm(
          `Remove ${plan.remove.length} container(s) and ${images.length} image(s)? [y/N] `,
        ))
      ) {
        process.stdout.write("nothing removed\n");
        return 0;
      }
    }
    let failed = await removeContainers(docker, plan);
    // Runtime images first, the base and rootfs they build on last.
    const ordered = [...images].sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0));
    for (const i of ordered) {
      await docker
        .getImage(i.Id)
        .remove({ force: true })
        .catch((error: Error) => {
          failed++;
          process.stderr.write(
            `isol8: could not remove image ${i.Id.slice(7, 19)}: ${error.message}\n`,
          );
        });
    }
    process.stdout.write(
      `removed ${plan.remove.length} container(s) and ${images.length} image(s)${failed ? `, ${failed} failed` : ""}\n`,
    );
    return failed ? 1 : 0;
  } catch (error) {
    return reportError(error);
  }
}
