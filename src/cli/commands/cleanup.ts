import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { assertDockerReachable, createDockerClient } from "../../backend/docker/client.js";
import { MANAGED_FILTER } from "../../engine/labels.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";

interface CleanupFlags {
  force?: boolean;
  images?: boolean;
}

export function registerCleanup(program: Command): void {
  const cleanup = program
    .command("cleanup")
    .description(
      "Remove isol8's containers (and with --images its images); only resources labelled isol8.managed=true",
    )
    .option("--force", "do not ask for confirmation")
    .option("--images", "also remove isol8 images")
    .action(async (flags: CleanupFlags) => {
      process.exitCode = await cleanupCommand(flags);
    });
  addExamples(cleanup, [
    { line: "isol8 cleanup", does: "list isol8's containers, then ask" },
    { line: "isol8 cleanup --force --images", does: "remove them and the images without asking" },
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

async function cleanupCommand(flags: CleanupFlags): Promise<number> {
  try {
    const docker = createDockerClient();
    await assertDockerReachable(docker);
    const containers = await docker.listContainers({ all: true, filters: MANAGED_FILTER });
    const images = flags.images ? await docker.listImages({ filters: MANAGED_FILTER }) : [];
    if (!containers.length && !images.length) {
      process.stdout.write("nothing to remove\n");
      return 0;
    }
    for (const c of containers)
      process.stdout.write(`container ${c.Id.slice(0, 12)} ${c.Image} ${c.State}\n`);
    for (const i of images)
      process.stdout.write(`image     ${i.Id.slice(7, 19)} ${(i.RepoTags ?? []).join(",")}\n`);
    if (!flags.force) {
      if (!process.stdin.isTTY)
        throw new CliError("refusing to remove without confirmation: not a terminal; use --force");
      if (
        !(await confirm(
          `Remove ${containers.length} container(s) and ${images.length} image(s)? [y/N] `,
        ))
      ) {
        process.stdout.write("nothing removed\n");
        return 0;
      }
    }
    let failed = 0;
    for (const c of containers) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch((error: Error) => {
          failed++;
          process.stderr.write(
            `isol8: could not remove container ${c.Id.slice(0, 12)}: ${error.message}\n`,
          );
        });
    }
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
      `removed ${containers.length} container(s) and ${images.length} image(s)${failed ? `, ${failed} failed` : ""}\n`,
    );
    return failed ? 1 : 0;
  } catch (error) {
    return reportError(error);
  }
}
