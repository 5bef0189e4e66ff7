import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { InvalidOptionError } from "../../src/engine/options.js";
import type { DockerIsol8Options, NetworkLogEntry } from "../../src/types.js";
import {
  hostAddresses,
  type LeakListener,
  makeTestCa,
  startHttpsUpstream,
  startHttpUpstream,
  startLeakListener,
  type TestCa,
  type Upstream,
} from "../fixtures/upstreams.js";

/** Python that fetches URLs through the proxy variables and prints one line per URL. */
const FETCH = `
import sys, urllib.request
for url in sys.argv[1:] if len(sys.argv) > 1 else URLS:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            print("OK", url, answer.read().decode())
    except Exception as error:
        print("FAIL", url, type(error).__name__, error)
`;

function fetchCode(urls: string[]): string {
  return `URLS = ${JSON.stringify(urls)}\n${FETCH}`;
}

function lines(stdout: string): string[] {
  return stdout.trim().split("\n");
}

describe("filtered network", () => {
  let http: Upstream;
  let https: Upstream;
  let ca: TestCa;
  let isol8: DockerIsol8;
  let options: DockerIsol8Options;

  before(async () => {
    ca = makeTestCa();
    http = await startHttpUpstream();
    https = await startHttpsUpstream(ca);
    // localhost resolves to a loopback address, which is refused unless a rule names it.
    options = {
      network: "filtered",
      networkFilter: {
        whitelist: [
          `localhost:${http.port}`,
          `localhost:${https.port}`,
          "127\\.0\\.0\\.1",
          "blocked\\.test",
        ],
        blacklist: ["blocked\\.test"],
      },
      logNetwork: true,
      caCertificates: [ca.caPem],
    };
    isol8 = new DockerIsol8(options);
  });
  after(async () => {
    await isol8?.stop();
    await http?.close();
    await https?.close();
  });

  test("an allowed host answers over HTTP and HTTPS; TLS is the upstream's own, verified with the trusted CA", async () => {
    const urls = [
      `http://localhost:${http.port}/hello?x=1`,
      `https://localhost:${https.port}/secure`,
    ];
    const result = await isol8.execute({ runtime: "python", code: fetchCode(urls) });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [
      `OK ${urls[0]} upstream says GET /hello?x=1 body=0`,
      `OK ${urls[1]} upstream says GET /secure body=0`,
    ]);
    assert.deepEqual(http.requests.at(-1), "GET /hello?x=1");
    const log = result.networkLogs ?? [];
    const plain = log.find((e) => e.method === "GET");
    const tunnel = log.find((e) => e.method === "CONNECT");
    assert.ok(plain && tunnel, JSON.stringify(log));
    assert.deepEqual(
      [plain.action, plain.host, plain.port, plain.path],
      ["ALLOW", "localhost", http.port, "/hello?x=1"],
    );
    assert.deepEqual([tunnel.action, tunnel.port, tunnel.path], ["ALLOW", https.port, null]);
    assert.ok(tunnel.bytesIn > 1000 && tunnel.bytesOut > 100, JSON.stringify(tunnel));
    assert.equal(result.resourceUsage?.networkBytesIn, plain.bytesIn + tunnel.bytesIn);
  });

  test("networkBytesOut counts what the program sent through the gateway, and grows with it", async () => {
    /** Python POSTing `size` bytes to each URL through the gateway. */
    const post = (urls: string[], size: number) =>
      [
        "import urllib.request",
        `for url in ${JSON.stringify(urls)}:`,
        `    answer = urllib.request.urlopen(urllib.request.Request(url, data=b"x" * ${size}), timeout=10)`,
        "    print(answer.read().decode())",
      ].join("\n");
    const sent = async (urls: string[], size: number) => {
      const result = await isol8.execute({ runtime: "python", code: post(urls, size) });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.deepEqual(
        lines(result.stdout),
        urls.map((u) => `upstream says POST ${new URL(u).pathname} body=${size}`),
      );
      const usage = result.resourceUsage;
      assert.ok(usage);
      const log = result.networkLogs ?? [];
      assert.equal(log.length, urls.length, JSON.stringify(log));
      assert.equal(
        usage.networkBytesOut,
        log.reduce((n, e) => n + e.bytesOut, 0),
      );
      assert.equal(
        usage.networkBytesIn,
        log.reduce((n, e) => n + e.bytesIn, 0),
      );
      return usage;
    };
    const plainUrl = [`http://localhost:${http.port}/upload`];
    const small = await sent(plainUrl, 1000);
    const big = await sent(plainUrl, 300_000);
    // The body and a request head (a few hundred bytes), no more.
    assert.ok(
      small.networkBytesOut >= 1000 && small.networkBytesOut < 1000 + 2000,
      JSON.stringify(small),
    );
    assert.ok(
      big.networkBytesOut >= 300_000 && big.networkBytesOut < 300_000 + 2000,
      JSON.stringify(big),
    );
    assert.ok(big.networkBytesOut - small.networkBytesOut >= 299_000 - 500);
    for (const u of [small, big])
      assert.ok(u.networkBytesIn > 0 && u.networkBytesIn < 2000, JSON.stringify(u));
    // Through a CONNECT tunnel the gateway counts the TLS bytes: the body and TLS's own.
    const tunnelled = await sent([`https://localhost:${https.port}/upload`], 100_000);
    assert.ok(
      tunnelled.networkBytesOut >= 100_000 && tunnelled.networkBytesOut < 100_000 + 10_000,
      JSON.stringify(tunnelled),
    );
    // Both kinds in one run add up.
    const both = await sent(
      [`http://localhost:${http.port}/a`, `https://localhost:${https.port}/b`],
      50_000,
    );
    assert.ok(
      both.networkBytesOut >= 100_000 && both.networkBytesOut < 100_000 + 12_000,
      JSON.stringify(both),
    );
  });

  test("node, bun, deno and curl use the gateway and the trusted CA too", async () => {
    const url = `https://localhost:${https.port}/from-`;
    const fetchIt = (who: string) =>
      `const answer = await fetch(${JSON.stringify(url + who)}); console.log(await answer.text());`;
    const programs = [
      ["node", fetchIt("node")],
      ["bun", fetchIt("bun")],
      ["deno", fetchIt("deno")],
      ["bash", `curl -sS --fail ${url}curl`],
    ] as const;
    for (const [runtime, code] of programs) {
      const result = await isol8.execute({ runtime, code });
      assert.equal(result.exitCode, 0, `${runtime}: ${result.stderr}`);
      const who = runtime === "bash" ? "curl" : runtime;
      assert.equal(result.stdout.trim(), `upstream says GET /from-${who} body=0`);
      assert.equal(result.networkLogs?.[0]?.method, "CONNECT", runtime);
    }
  });

  test("a code context gets the trusted CA and the gateway too", async () => {
    const context = await isol8.createContext({ runtime: "python" });
    try {
      const url = `https://localhost:${https.port}/from-context`;
      const result = await isol8.execute({
        runtime: "python",
        contextId: context.id,
        code: `import urllib.request\nurllib.request.urlopen(${JSON.stringify(url)}, timeout=10).read().decode()`,
      });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.value, "'upstream says GET /from-context body=0'");
      // The cell's traffic is the cell's: logged, and counted in its resourceUsage.
      const log = result.networkLogs ?? [];
      assert.deepEqual(
        log.map((e) => [e.action, e.method, e.port]),
        [["ALLOW", "CONNECT", https.port]],
      );
      assert.ok((log[0]?.bytesIn ?? 0) > 1000, JSON.stringify(log));
      assert.equal(result.resourceUsage?.networkBytesIn, log[0]?.bytesIn);
      assert.equal(result.resourceUsage?.networkBytesOut, log[0]?.bytesOut);
      const posted = await isol8.execute({
        runtime: "python",
        contextId: context.id,
        code: `urllib.request.urlopen(urllib.request.Request(${JSON.stringify(url)}, data=b"x" * 100000), timeout=10).read().decode()`,
      });
      assert.equal(posted.value, "'upstream says POST /from-context body=100000'");
      const sent = posted.resourceUsage?.networkBytesOut ?? 0;
      assert.ok(sent >= 100_000 && sent < 110_000, JSON.stringify(posted.resourceUsage));
      assert.equal(posted.networkLogs?.length, 1, "only this cell's request");
    } finally {
      await isol8.closeContext(context.id);
    }
  });

  test("without the CA the HTTPS upstream is not trusted: the tunnel does not break TLS", async () => {
    const { caCertificates: _, ...withoutCa } = options;
    const plain = new DockerIsol8(withoutCa);
    try {
      const url = `https://localhost:${https.port}/secure`;
      const result = await plain.execute({ runtime: "python", code: fetchCode([url]) });
      assert.match(result.stdout, /^FAIL .*CERTIFICATE_VERIFY_FAILED/m);
      assert.deepEqual(https.requests.filter((r) => r === "GET /secure").length, 1);
    } finally {
      await plain.stop();
    }
  });

  test("denied names, names off the list, other ports, IP literals and metadata addresses are refused and logged", async () => {
    const urls = [
      "http://blocked.test/",
      "http://BLOCKED.TEST./",
      "http://example.com.attacker.test/",
      `http://localhost:${http.port + 1}/`,
      "http://169.254.169.254/latest/meta-data/",
      "https://169.254.169.254/",
      "http://[fd00:ec2::254]/",
      `http://127.0.0.2:${http.port}/`,
    ];
    const result = await isol8.execute({ runtime: "python", code: fetchCode(urls) });
    assert.equal(result.exitCode, 0, result.stderr);
    const answers = lines(result.stdout);
    assert.equal(answers.length, urls.length);
    for (const answer of answers)
      assert.match(answer, /^FAIL .*403|Tunnel connection failed: 403/, answer);
    const log = result.networkLogs ?? [];
    assert.equal(log.length, urls.length, JSON.stringify(log));
    assert.ok(log.every((e) => e.action === "BLOCK"));
    const reasons = log.map((e: NetworkLogEntry) => `${e.host} ${e.reason}`);
    assert.match(reasons[0] ?? "", /^blocked\.test denied by rule/);
    assert.match(reasons[1] ?? "", /^blocked\.test denied by rule/);
    assert.match(reasons[2] ?? "", /not on the allow list/);
    assert.match(reasons[3] ?? "", /not on the allow list/); // localhost:PORT rules name other ports
    assert.match(reasons[4] ?? "", /IP-address destinations need an allow rule/);
    assert.match(reasons[7] ?? "", /IP-address destinations need an allow rule/);
  });

  test("a name that resolves to an internal address is refused unless a rule names the address", async () => {
    const strict = new DockerIsol8({
      network: "filtered",
      networkFilter: { whitelist: [`localhost:${http.port}`] },
      logNetwork: true,
    });
    try {
      const url = `http://localhost:${http.port}/rebind`;
      const result = await strict.execute({ runtime: "python", code: fetchCode([url]) });
      assert.match(result.stdout, /^FAIL .*403/);
      assert.match(result.networkLogs?.[0]?.reason ?? "", /resolves to the internal address/);
      assert.ok(!http.requests.includes("GET /rebind"));
    } finally {
      await strict.stop();
    }
  });

  describe("code that ignores the proxy gets nowhere", () => {
    let open: Upstream;
    let leak: LeakListener;
    before(async () => {
      // Listening on every interface: reachable from anywhere that has a route here.
      open = await startHttpUpstream("0.0.0.0");
      leak = await startLeakListener();
    });
    after(async () => {
      await open.close();
      await leak.close();
    });

    test("the host's addresses answer from the host itself, so the checks below can fail", async () => {
      for (const address of hostAddresses("IPv4")) {
        await new Promise<void>((resolve, reject) => {
          const socket = connect({ host: address, port: open.port }, () => {
            socket.destroy();
            resolve();
          });
          socket.on("error", reject);
        });
      }
      assert.ok(hostAddresses("IPv4").length > 0);
    });

    test("raw TCP and UDP to the host's addresses, DNS to an outside resolver, IPv6 and name lookups all fail", async () => {
      const marker = `isol8leak${Date.now()}`;
      const code = `
import socket, struct, json
results = {}
def attempt(name, fn):
    try:
        fn()
        results[name] = "reached"
    except Exception as error:
        results[name] = type(error).__name__
def tcp(host, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((host, port))
    s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    if not s.recv(100):
        raise OSError("no answer")
def dns_query(name):
    header = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return header + labels + b"\\x00\\x00\\x01\\x00\\x01"
def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(dns_query("${marker}.tunnel.test"), (host, port))
    s.recvfrom(512)
for host in ${JSON.stringify(hostAddresses("IPv4"))}:
    attempt("tcp " + host, lambda: tcp(host, ${open.port}))
    attempt("dns-udp " + host, lambda: udp(host, ${leak.port}))
    attempt("dns-tcp " + host, lambda: tcp(host, ${leak.port}))
    attempt("udp-53 " + host, lambda: udp(host, 53))
attempt("ipv6", lambda: tcp("2001:db8::1", 80, socket.AF_INET6))
attempt("lookup", lambda: socket.getaddrinfo("${marker}.example.com", 80))
attempt("public-dns", lambda: udp("8.8.8.8", 53))
print(json.dumps(results))
`;
      const result = await isol8.execute({ runtime: "python", code, timeoutMs: 60_000 });
      assert.equal(result.exitCode, 0, result.stderr);
      const results = JSON.parse(result.stdout) as Record<string, string>;
      assert.ok(Object.keys(results).length >= 7, result.stdout);
      for (const [what, outcome] of Object.entries(results))
        assert.notEqual(outcome, "reached", `${what} reached its target`);
      assert.deepEqual(open.requests, []);
      assert.ok(!leak.heard.some((text) => text.includes(marker)), "the marker left the sandbox");
      assert.deepEqual(result.networkLogs, [], "none of this went through the gateway");
    });
  });

  test("the gateway is gone after stop(): no socket directory is left", async () => {
    // A temporary folder of this test's own: other test files running at the
    // same time make and remove gateway directories in the shared one.
    const shared = process.env.TMPDIR;
    const own = mkdtempSync(join(tmpdir(), "isol8-gateway-test-"));
    process.env.TMPDIR = own;
    try {
      const gatewayDirs = () => readdirSync(own).filter((n) => n.startsWith("isol8-egress-"));
      const once = new DockerIsol8({ network: "filtered", networkFilter: { whitelist: [] } });
      await once.execute({ runtime: "bash", code: "echo hi" });
      assert.equal(gatewayDirs().length, 1);
      await once.stop();
      assert.deepEqual(gatewayDirs(), []);
    } finally {
      if (shared === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = shared;
      rmSync(own, { recursive: true, force: true });
    }
  });

  test("bad filters are refused when the engine is made, naming the field", () => {
    assert.throws(
      () => new DockerIsol8({ network: "filtered", networkFilter: { whitelist: ["("] } }),
      (e: Error) =>
        e instanceof InvalidOptionError &&
        /^networkFilter\.whitelist\[0\]: "\(" is not a valid regular expression/.test(e.message),
    );
    assert.throws(
      () => new DockerIsol8({ network: "none", networkFilter: { whitelist: ["x"] } }),
      /networkFilter: allow and deny rules need network "filtered"/,
    );
    assert.throws(
      () => new DockerIsol8({ network: "host", logNetwork: true }),
      /logNetwork: only network "filtered"/,
    );
  });
});
