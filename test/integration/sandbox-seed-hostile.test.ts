// The /sandbox an image's build leaves (copied back at start and after each
// wipe) against a build and a program that try to abuse it: links pointing
// out of /sandbox, special files, a name with a newline, a deep tree, a
// read-only folder; then a program that replaces the copy's folders with
// links and tries to change the seed itself, so that the next run on the same
// container would start from what it left.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { buildCustomImage } from "../../src/images/custom-image.js";
import { SANDBOX_SEED_DIR } from "../../src/sandbox-layout.js";
import { engine } from "../support/engine.js";
import { removedAfterwards } from "../support/images.js";

const docker = createDockerClient();
const created = removedAfterwards();
const DEPTH = 100;

const SETUP = [
  "set -e; cd /sandbox",
  "mkdir -p keep/ro && echo data > keep/file && echo inner > keep/ro/f && chmod 0555 keep/ro",
  "ln -s /etc/shadow link-out && ln -s keep link-in && ln -s /nowhere dangling",
  "mkfifo fifo",
  "printf nl > \"$(printf 'new\\nline')\"",
  `p=deep; for i in $(seq 2 ${DEPTH}); do p="$p/d"; done; mkdir -p "$p"; echo leaf > "$p/leaf"`,
].join("\n");

/** What a program sees of /sandbox: the same on every fresh start. */
const LOOK = [
  "cd /sandbox",
  "echo links: $(readlink link-out) $(readlink link-in) $(readlink dangling) $(cat link-in/file)",
  "[ -e fifo ] || [ -L fifo ] && echo fifo: present || echo fifo: absent",
  "echo newline: $(cat \"$(printf 'new\\nline')\")",
  "echo deep: $(find deep -name leaf | tr -cd / | wc -c) $(cat $(find deep -name leaf))",
  "echo ro: $(stat -c %a keep/ro) $(cat keep/ro/f)",
  "echo shadow: $(cat link-out 2>/dev/null || echo unreadable)",
  "echo entries: $(ls -A --quoting-style=c | grep -v '^\"main\\.' | tr '\\n' ' ') owner: $(stat -c %u keep/file)",
].join("\n");

/** A program that leaves traps for the next one in /sandbox and tries to change the seed. */
const ATTACK = [
  "cd /sandbox",
  "chmod u+w keep/ro; rm -rf keep; ln -s /tmp keep; echo evil > /tmp/file",
  "rm -f link-in; ln -s /proc/self/root link-in; echo evil > planted",
  `for act in "touch ${SANDBOX_SEED_DIR}/planted" "rm -rf ${SANDBOX_SEED_DIR}/keep" "chmod 777 ${SANDBOX_SEED_DIR}"; do`,
  "  $act 2>/dev/null && echo seed: changed || echo seed: refused",
  "done",
].join("\n");

test("a build's /sandbox comes back whole and only as files, links and folders; a program cannot change what the next run starts from", async () => {
  const tag = `isol8-attack-seed:${process.pid}`;
  const report = await buildCustomImage(docker, { runtime: "bash", setup: [SETUP], tag });
  created.add(report.image);
  const isol8 = engine({ image: report.image, poolSize: { clean: 1, dirty: 1 } });
  const first = await isol8.execute({ runtime: "bash", code: LOOK });
  assert.equal(first.exitCode, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split("\n"), [
    "links: /etc/shadow keep /nowhere data",
    "fifo: absent",
    "newline: nl",
    `deep: ${DEPTH} leaf`,
    "ro: 555 inner",
    "shadow: unreadable",
    // No fifo, nothing else; the program's own file is left out.
    'entries: "dangling" "deep" "keep" "link-in" "link-out" "new\\nline" owner: 100',
  ]);
  const attack = await isol8.execute({ runtime: "bash", code: ATTACK });
  assert.equal(attack.stdout, "seed: refused\nseed: refused\nseed: refused\n", attack.stderr);
  // The same container, wiped: it starts again from the build's /sandbox.
  const next = await isol8.execute({ runtime: "bash", code: `${LOOK}\nls /sandbox/planted 2>&1` });
  assert.equal(next.containerId, first.containerId, "the pool reused the container");
  assert.equal(
    next.stdout,
    `${first.stdout}ls: cannot access '/sandbox/planted': No such file or directory\n`,
  );
});

test("a build that leaves in /sandbox what its owner cannot read fails, naming it, instead of making an image no run can start", async () => {
  const tag = `isol8-attack-seed-closed:${process.pid}`;
  created.add(tag);
  await assert.rejects(
    buildCustomImage(docker, {
      runtime: "bash",
      setup: [
        "echo s > /sandbox/secret && chmod 000 /sandbox/secret && mkdir /sandbox/shut && chmod 0600 /sandbox/shut",
      ],
      tag,
    }),
    (error: unknown) => {
      assert.match(
        String((error as Error).message),
        /its owner cannot read.*\/sandbox\/s(ecret|hut) \/sandbox\/s(ecret|hut)/,
      );
      return true;
    },
  );
  await assert.rejects(docker.getImage(tag).inspect(), { statusCode: 404 });
});
