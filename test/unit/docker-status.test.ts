import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DockerUnavailableError } from "../../src/backend/docker/client.js";
import { DockerStatus } from "../../src/server/docker-status.js";
import { HttpError } from "../../src/server/errors.js";

/** A DockerStatus over a ping that answers as `up()` says, counting its calls, on a clock the test moves. */
function status(up: () => boolean) {
  let now = 0;
  let pings = 0;
  const docker = new DockerStatus(
    async () => {
      pings++;
      if (!up()) throw new DockerUnavailableError("Docker is not reachable at unix:///x (gone).");
    },
    () => now,
  );
  return { docker, pings: () => pings, advance: (ms: number) => (now += ms) };
}

describe("DockerStatus", () => {
  test("health: 200 ok while Docker answers, 503 degraded with its message while not, and back", async () => {
    let up = false;
    const s = status(() => up);
    assert.deepEqual(await s.docker.health("1.2.3"), {
      status: 503,
      body: {
        status: "degraded",
        version: "1.2.3",
        docker: "unreachable",
        error: "Docker is not reachable at unix:///x (gone).",
      },
    });
    up = true;
    s.advance(1000);
    assert.deepEqual(await s.docker.health("1.2.3"), {
      status: 200,
      body: { status: "ok", version: "1.2.3" },
    });
  });

  test("one ping stands for a second, for concurrent callers too", async () => {
    const s = status(() => true);
    await Promise.all([s.docker.check(), s.docker.check(), s.docker.check()]);
    s.advance(999);
    await s.docker.check();
    assert.equal(s.pings(), 1);
    s.advance(1);
    await s.docker.check();
    assert.equal(s.pings(), 2);
  });

  test("explain: a failure that would be a 500 is Docker's absence while Docker does not answer", async () => {
    let up = false;
    const s = status(() => up);
    const socketError = new Error("connect ENOENT /var/run/docker.sock");
    assert.ok((await s.docker.explain(socketError)) instanceof DockerUnavailableError);
    const refusal = new HttpError(400, "request.runtime: no");
    assert.equal(await s.docker.explain(refusal), refusal, "a refusal stays what it is");
    up = true;
    s.advance(1000);
    assert.equal(await s.docker.explain(socketError), socketError, "Docker answers: a real 500");
  });

  test("a ping failing with another error still says Docker is not reachable, and why", async () => {
    const docker = new DockerStatus(async () => {
      throw new Error("socket hang up\nmore");
    });
    const answer = await docker.check();
    assert.ok(answer instanceof DockerUnavailableError);
    assert.equal(answer.message, "Docker is not reachable (socket hang up).");
  });
});
