import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveOptions } from "../../src/engine/options.js";
import { RunPlanner } from "../../src/engine/run-plan.js";
import { decideDestination } from "../../src/network/policy.js";
import type { DockerIsol8Options } from "../../src/types.js";

/** The planner of an engine with these options: no Docker is involved. */
function planner(options: DockerIsol8Options = {}): RunPlanner {
  return new RunPlanner(resolveOptions(options));
}

test("a python program runs as /sandbox/main.py from its runtime's image, after the request's own files", () => {
  const plan = planner().plan({
    runtime: "python",
    code: "print(1)",
    files: { "data/../main.py": "shadowed", "in.txt": "x" },
  });
  assert.equal(plan.image, "isol8:python");
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.program.argv, ["python3", "/sandbox/main.py"]);
  assert.equal(plan.program.workdir, "/sandbox");
  // The program's file comes last, so it wins a clash of paths.
  assert.deepEqual(
    plan.program.files.map((f) => f.path),
    ["main.py", "in.txt", "/sandbox/main.py"],
  );
  assert.equal(plan.program.files.at(-1)?.content, "print(1)");
  assert.equal(plan.program.prestarted, true);
});

test("secrets win over the request's variables, which win over the base environment", () => {
  const plan = planner({ secrets: { TOKEN: "s3cret-value" } }).plan({
    runtime: "python",
    code: "",
    env: { TOKEN: "from-request", HOME: "/elsewhere", EXTRA: "1" },
  });
  assert.equal(plan.program.env.TOKEN, "s3cret-value");
  assert.equal(plan.program.env.HOME, "/elsewhere");
  assert.equal(plan.program.env.EXTRA, "1");
  assert.equal(plan.program.env.PATH, "/usr/local/bin:/usr/bin:/bin");
  // HOME is read at start-up: the prestarted interpreter (HOME=/sandbox) cannot run it.
  assert.equal(plan.program.prestarted, false);
});

test("a cmd runs under bash with no program file and no prestarted interpreter", () => {
  const plan = planner().plan({ runtime: "node", cmd: "ls /", files: { "a.txt": "a" } });
  assert.deepEqual(plan.program.argv, ["bash", "-c", "ls /"]);
  assert.deepEqual(
    plan.program.files.map((f) => f.path),
    ["a.txt"],
  );
  assert.equal(plan.program.prestarted, undefined);
});

test("a custom image is used for every runtime and never has a prestarted interpreter", () => {
  const custom = planner({ image: "isol8-custom:abc" });
  const plan = custom.plan({ runtime: "node", code: "1" });
  assert.equal(plan.image, "isol8-custom:abc");
  assert.equal(plan.program.prestarted, false);
  assert.equal(custom.prestartFor("isol8-custom:abc"), undefined);
  assert.equal(custom.prestartFor("isol8:python"), undefined);
  const stock = planner();
  assert.deepEqual(stock.prestartFor("isol8:python")?.argv, [
    "python3",
    "/usr/local/lib/isol8/python.py",
  ]);
  assert.equal(stock.prestartFor("isol8:bash"), undefined);
});

test("timeout and workdir come from the request, else the engine", () => {
  const engine = planner({ timeoutMs: 9_000 });
  assert.equal(engine.plan({ runtime: "python", code: "" }).program.timeoutMs, 9_000);
  const plan = engine.plan({
    runtime: "python",
    code: "",
    timeoutMs: 1_234,
    workdir: "/sandbox/work",
  });
  assert.equal(plan.program.timeoutMs, 1_234);
  assert.equal(plan.program.workdir, "/sandbox/work");
});

test("installs run before the program, in /sandbox, with the registry allowed only while they run", () => {
  const engine = planner({ network: "filtered", networkFilter: { whitelist: ["example\\.org"] } });
  const plan = engine.plan({
    runtime: "python",
    code: "import six",
    installPackages: ["six"],
    setupScript: "echo ready",
    workdir: "/sandbox/work",
  });
  assert.deepEqual(
    plan.steps.map((s) => s.phase),
    ["install", "setup"],
  );
  const [install, setup] = plan.steps;
  assert.ok(install && setup);
  assert.equal(install.spec.workdir, "/sandbox");
  assert.deepEqual(install.spec.argv.slice(0, 4), ["python3", "-I", "-m", "pip"]);
  // The program finds the packages; the installer does not run from them.
  assert.ok(plan.program.env.PYTHONPATH);
  assert.equal(install.spec.env.PYTHONPATH, undefined);
  assert.ok(install.policy);
  assert.equal(decideDestination(install.policy, "pypi.org", 443).allow, true);
  const base = resolveOptions({
    network: "filtered",
    networkFilter: { whitelist: ["example\\.org"] },
  }).egressPolicy;
  assert.ok(base);
  assert.equal(decideDestination(base, "pypi.org", 443).allow, false);
  // The setup script starts where the program does, under the same environment and timeout.
  assert.deepEqual(setup.spec.argv, ["bash", "-c", "echo ready"]);
  assert.equal(setup.spec.workdir, "/sandbox/work");
  assert.equal(setup.spec.timeoutMs, plan.program.timeoutMs);
  assert.equal(setup.policy, undefined);
  // Proxy variables on a filtered network.
  assert.equal(plan.program.env.HTTPS_PROXY, "http://127.0.0.1:3128");
});

test("extra CAs: a hidden first step writes the bundle on a networked engine, and nothing on network none", () => {
  const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  const networked = planner({ network: "host", caCertificates: [ca] });
  const plan = networked.plan({ runtime: "node", code: "1" });
  assert.deepEqual(
    plan.steps.map((s) => s.phase),
    ["hidden"],
  );
  assert.equal(plan.steps[0]?.spec.files[0]?.content, `${ca}\n`);
  assert.equal(plan.program.env.NODE_EXTRA_CA_CERTS, "/sandbox/.isol8/ca-bundle.pem");
  assert.equal(plan.program.env.SSL_CERT_FILE, "/sandbox/.isol8/ca-bundle.pem");
  assert.ok(networked.contextPreparation("python"));
  // A prestarted interpreter starts before the bundle exists, so it gets none of the CA variables.
  assert.equal(networked.prestartFor("isol8:node")?.env.NODE_EXTRA_CA_CERTS, undefined);

  const offline = planner({ network: "none", caCertificates: [ca] });
  assert.deepEqual(offline.plan({ runtime: "node", code: "1" }).steps, []);
  assert.equal(offline.contextPreparation("python"), undefined);
  assert.equal(offline.plan({ runtime: "node", code: "1" }).program.env.SSL_CERT_FILE, undefined);
});

test("a code context's kernel gets the program's environment and limits", () => {
  const engine = planner({ secrets: { KEY: "value-of-key" }, maxOutputSize: 2048 });
  const spec = engine.kernelSpec("python");
  assert.equal(spec.env.KEY, "value-of-key");
  assert.equal(spec.outputLimit, 2048);
  assert.equal(spec.workdir, "/sandbox");
});
