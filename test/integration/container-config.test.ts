// What Docker keeps about a container (its configuration, written to disk
// under the engine's data root and shown by `docker inspect`) holds none of
// a run's code, environment, files or the engine's secrets: those cross the
// supervisor's channel only. Checked on a fresh container while its run is
// going on, a pooled container after it was reused, a session's container
// and a code context's.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import type { ContainerInspect } from "../../src/backend/docker/engine-api/types.js";
import type { ExecutionResult, ExecutionSummary } from "../../src/types.js";
import { docker, ownContainers } from "../support/containers.js";
import { engine } from "../support/engine.js";
import { sha256 } from "../support/hash.js";

const unique = (what: string) => `${what}-${randomBytes(8).toString("hex")}`;

/** A run's inputs, each with a value that appears nowhere else. */
function inputs() {
  return {
    code: unique("code-marker"),
    env: unique("env-marker"),
    secret: unique("secret-value"),
    file: unique("file-marker"),
  };
}
type Inputs = ReturnType<typeof inputs>;

/**
 * Python that shows it had each input: the code's marker reversed (the
 * marker itself is only in the code), and digests of the environment's
 * values (the secret would be masked in output).
 */
function program(i: Inputs, extra = ""): string {
  return [
    "import hashlib, os, time",
    `marker = "${i.code}"`,
    "print(marker[::-1])",
    "for name in ('RUN_ENV', 'API_KEY'):",
    "    print(hashlib.sha256(os.environ.get(name, '').encode()).hexdigest())",
    extra,
  ].join("\n");
}

/** `env` is what RUN_ENV held (a code context takes no request env). */
function assertRan(
  result: Pick<ExecutionResult, "stdout" | "stderr">,
  i: Inputs,
  env = i.env,
): void {
  assert.equal(
    result.stdout.split("\n").slice(0, 3).join("\n"),
    [[...i.code].reverse().join(""), sha256(env), sha256(i.secret)].join("\n"),
    result.stderr,
  );
}

/** This process's containers as Docker describes them. */
async function inspectOwn(): Promise<ContainerInspect[]> {
  const listed = await ownContainers();
  const infos = await Promise.all(
    listed.map((c) =>
      docker
        .getContainer(c.Id)
        .inspect()
        .catch(() => undefined),
    ),
  );
  return infos.filter((info): info is ContainerInspect => info !== undefined);
}

/**
 * Fails if any of the inputs appears anywhere in what Docker holds about
 * these containers, naming the container and the part (Config.Env,
 * Config.Cmd, Config.Labels, HostConfig, ...). `expected` must be among them.
 */
function assertAbsent(infos: ContainerInspect[], i: Inputs, expected: string): void {
  assert.ok(
    infos.some((info) => info.Id === expected),
    `the run's container ${expected} was inspected`,
  );
  for (const info of infos) {
    const parts: Record<string, unknown> = {
      "Config.Env": info.Config.Env,
      "Config.Cmd": info.Config.Cmd,
      "Config.Entrypoint": info.Config.Entrypoint,
      "Config.Labels": info.Config.Labels,
      HostConfig: info.HostConfig,
      everything: info,
    };
    for (const [part, value] of Object.entries(parts)) {
      const text = JSON.stringify(value) ?? "";
      for (const [input, marker] of Object.entries(i))
        assert.ok(!text.includes(marker), `the ${input} is in ${part} of container ${info.Id}`);
    }
  }
}

describe("what Docker keeps about a container holds no code, environment, file or secret", () => {
  test("a fresh container, inspected while its run is going on", async () => {
    const i = inputs();
    const isol8 = engine({ poolStrategy: "secure", secrets: { API_KEY: i.secret } });
    let during: ContainerInspect[] = [];
    let result: ExecutionSummary | undefined;
    let stdout = "";
    let stderr = "";
    for await (const event of isol8.executeStream({
      runtime: "python",
      code: program(i, "print('inspect now', flush=True)\ntime.sleep(3)"),
      env: { RUN_ENV: i.env },
      files: { "/sandbox/input.txt": i.file },
    })) {
      if (event.type === "exit") result = event.result;
      if (event.type === "stderr") stderr += event.data;
      if (event.type !== "stdout") continue;
      stdout += event.data;
      if (stdout.includes("inspect now") && during.length === 0) during = await inspectOwn();
    }
    assert.ok(result?.containerId, "the run names its container");
    assertRan({ stdout, stderr }, i);
    assertAbsent(during, i, result.containerId);
  });

  test("a pooled container, after a second run reused it", async () => {
    const first = inputs();
    const second = inputs();
    const isol8 = engine({
      poolStrategy: "fast",
      poolSize: { clean: 1, dirty: 1 },
      secrets: { API_KEY: first.secret },
    });
    const a = await isol8.execute({
      runtime: "python",
      code: program(first),
      env: { RUN_ENV: first.env },
      files: { "/sandbox/input.txt": first.file },
    });
    assertRan(a, first);
    assert.ok(a.containerId);
    assertAbsent(await inspectOwn(), first, a.containerId);
    // The used container is wiped in the background and comes back clean;
    // until it has, a run may get another one. A few runs, then, until one
    // lands in the first run's container.
    const again = { ...second, secret: first.secret };
    let b: ExecutionResult | undefined;
    for (let attempt = 0; attempt < 5 && b?.containerId !== a.containerId; attempt++) {
      await new Promise((r) => setTimeout(r, 300));
      b = await isol8.execute({
        runtime: "python",
        code: program(again),
        env: { RUN_ENV: second.env },
        files: { "/sandbox/input.txt": second.file },
      });
      assertRan(b, again);
    }
    assert.equal(b?.containerId, a.containerId, "the container was reused");
    assertAbsent(await inspectOwn(), first, a.containerId);
    assertAbsent(await inspectOwn(), again, a.containerId);
  });

  test("a session's container, files put into it included", async () => {
    const i = inputs();
    const isol8 = engine({ mode: "persistent", secrets: { API_KEY: i.secret } });
    await isol8.putFile("/sandbox/put.txt", i.file);
    const result = await isol8.execute({
      runtime: "python",
      code: program(i, "print(open('/sandbox/put.txt').read())"),
      env: { RUN_ENV: i.env },
    });
    assertRan(result, i);
    assert.equal(result.stdout.split("\n")[3], i.file);
    assert.ok(result.containerId);
    assertAbsent(await inspectOwn(), i, result.containerId);
  });

  test("a code context's container", async () => {
    const i = inputs();
    const isol8 = engine({ secrets: { API_KEY: i.secret } });
    const context = await isol8.createContext({ runtime: "python" });
    const result = await isol8.execute({
      runtime: "python",
      contextId: context.id,
      code: program(i),
    });
    assertRan(result, i, "");
    assert.ok(result.containerId);
    assertAbsent(await inspectOwn(), i, result.containerId);
  });
});
