import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { resolveCodeInput } from "../../src/cli/code-input.js";
import { CliError } from "../../src/cli/exit-codes.js";
import { remoteCodeCliError, remoteCodeSource } from "../../src/cli/remote-code.js";
import { configSchema } from "../../src/config/file.js";
import type { RemoteCodeConfig } from "../../src/remote-code/config.js";
import {
  type FetchCodeOptions,
  fetchCode,
  MAX_REDIRECTS,
  type ResolveHost,
} from "../../src/remote-code/fetch-code.js";
import { RemoteCodeError, remoteCodePolicy } from "../../src/remote-code/policy.js";
import { gistRawUrl, githubRawUrl, urlExtension } from "../../src/remote-code/url.js";
import {
  type CodeServer,
  makeTestCa,
  startCodeServer,
  type TestCa,
} from "../fixtures/upstreams.js";
import { sha256 } from "../support/hash.js";

const dir = mkdtempSync(join(tmpdir(), "isol8-remote-code-"));

describe("shorthands", () => {
  test("--github OWNER/REPO/REF/PATH is a raw.githubusercontent.com URL", () => {
    assert.equal(
      githubRawUrl("octocat/hello-world/main/src/hello.py"),
      "https://raw.githubusercontent.com/octocat/hello-world/main/src/hello.py",
    );
    assert.equal(
      githubRawUrl("my-org/repo.js/v1.2.0/a b/c#d.js"),
      "https://raw.githubusercontent.com/my-org/repo.js/v1.2.0/a%20b/c%23d.js",
    );
  });

  test("--gist ID/FILE and OWNER/ID/FILE are gist.githubusercontent.com URLs", () => {
    assert.equal(
      gistRawUrl("aa5a315d61ae9438b18d/hello.py"),
      "https://gist.githubusercontent.com/raw/aa5a315d61ae9438b18d/hello.py",
    );
    assert.equal(
      gistRawUrl("octocat/aa5a315d61ae9438b18d/hello world.sh"),
      "https://gist.githubusercontent.com/octocat/aa5a315d61ae9438b18d/raw/hello%20world.sh",
    );
  });

  test("bad shorthands are refused with the flag and the expected form", () => {
    const github = [
      "octocat/hello-world/main",
      "octocat/hello-world//x.py",
      "/octocat/hello-world/main/x.py",
      "octocat/hello-world/main/../../x.py",
      "-octocat/hello-world/main/x.py",
      "octocat/hello world/main/x.py",
      "octocat/hello-world/main/x\\y.py",
      "octocat/hello-world/main/x\n.py",
      "",
    ];
    for (const spec of github) {
      assert.throws(
        () => githubRawUrl(spec),
        (error: unknown) =>
          error instanceof RemoteCodeError &&
          error.kind === "invalid" &&
          error.message.startsWith(`--github: ${JSON.stringify(spec)} is not OWNER/REPO/REF/PATH`),
        spec,
      );
    }
    for (const spec of [
      "hello.py",
      "nothex!/hello.py",
      "a/b/c/d.py",
      "aa5a315d/",
      "aa5a315d/..",
      "bad_owner!/aa5a315d/x.py",
    ]) {
      assert.throws(
        () => gistRawUrl(spec),
        (error: unknown) =>
          error instanceof RemoteCodeError &&
          error.message.startsWith(
            `--gist: ${JSON.stringify(spec)} is not GIST_ID/FILE or OWNER/GIST_ID/FILE`,
          ),
        spec,
      );
    }
  });

  test("the runtime extension is the URL path's, without query or fragment", () => {
    assert.equal(urlExtension("https://x.test/a/b.PY?token=1#top"), ".py");
    assert.equal(urlExtension("https://x.test/a/run%2Ecjs"), ".cjs");
    assert.equal(urlExtension("https://x.test/a/"), "");
    assert.equal(urlExtension("https://x.test/script"), "");
    assert.equal(urlExtension("not a url"), "");
  });
});

describe("remoteCode configuration", () => {
  test("bad keys and host patterns are refused when the file is read", () => {
    const bad: unknown[] = [
      { remoteCode: { enabled: "yes" } },
      { remoteCode: { allowedSchemes: ["ftp"] } },
      { remoteCode: { allowedSchemes: [] } },
      { remoteCode: { allowedHosts: ["(unclosed"] } },
      { remoteCode: { blockedHosts: ["x\\.test:70000"] } },
      { remoteCode: { maxCodeSize: 0 } },
      { remoteCode: { fetchTimeoutMs: 1.5 } },
      { remoteCode: { allowPrivateAddresses: true } },
    ];
    for (const config of bad) assert.equal(configSchema.safeParse(config).success, false);
    const pattern = configSchema.safeParse({ remoteCode: { allowedHosts: ["(unclosed"] } });
    assert.match(String(pattern.error?.issues[0]?.message), /not a valid regular expression/);
    assert.equal(
      configSchema.safeParse({
        remoteCode: { enabled: true, allowedHosts: ["127\\.0\\.0\\.1"], requireHash: true },
      }).success,
      true,
    );
  });

  test("defaults: disabled, https only, any host, 1 MiB, 10 s, no hash required", () => {
    const policy = remoteCodePolicy();
    assert.equal(policy.enabled, false);
    assert.deepEqual([...policy.allowedSchemes], ["https"]);
    assert.equal(policy.anyHost, true);
    assert.equal(policy.maxCodeSize, 1024 * 1024);
    assert.equal(policy.fetchTimeoutMs, 10_000);
    assert.equal(policy.requireHash, false);
    assert.equal(policy.ca, undefined);
  });

  test("an unreadable CA file is named", () => {
    assert.throws(
      () => remoteCodePolicy({ caCertificates: ["/nonexistent/ca.pem"] }),
      /remoteCode\.caCertificates\[0\]: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
    );
  });
});

describe("fetchCode against a local HTTPS server", () => {
  let ca: TestCa;
  let caFile: string;
  let server: CodeServer;
  let plain: CodeServer;
  const hello = "print('hello from afar')\n";
  const big = "#".repeat(4096);

  before(async () => {
    ca = makeTestCa();
    caFile = join(dir, "ca.pem");
    writeFileSync(caFile, ca.caPem);
    server = await startCodeServer(
      {
        "/hello.py": { body: hello },
        "/hello.py?v=1": { body: hello },
        "/latin1.py": { body: Buffer.from([0x70, 0x72, 0x69, 0x6e, 0x74, 0xe9]) },
        "/big.py": { body: big },
        "/big-chunked.py": { body: big, chunked: true },
        "/hang.py": { hang: true },
        "/hop1": { redirect: "/hop2" },
        "/hop2": { redirect: "/hello.py", status: 301 },
        "/loop": { redirect: "/loop" },
        ...Object.fromEntries(
          Array.from({ length: MAX_REDIRECTS + 1 }, (_, i) => [
            `/chain${i}`,
            { redirect: `/chain${i + 1}` },
          ]),
        ),
        [`/chain${MAX_REDIRECTS + 1}`]: { body: hello },
        "/to-private": { redirect: "https://internal.test/x.py" },
        "/to-metadata": { redirect: "https://169.254.169.254/latest/meta-data" },
        "/to-ftp": { redirect: "ftp://127.0.0.1/x.py" },
      },
      ca,
    );
    plain = await startCodeServer({ "/hello.py": { body: hello } });
  });
  after(async () => {
    await server.close();
    await plain.close();
  });

  /** Names resolve only through this table; nothing is asked of real DNS. */
  const resolve: ResolveHost = async (host) => {
    const table: Record<string, string[]> = {
      localhost: ["127.0.0.1"],
      "internal.test": ["10.0.0.5"],
      "mixed.test": ["10.0.0.5", "127.0.0.1"],
      "rebind.test": ["127.0.0.1"],
    };
    const addresses = table[host];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: 4 }));
  };

  function fetchWith(
    url: string,
    config: RemoteCodeConfig = {},
    extra: Omit<FetchCodeOptions, "policy"> = {},
  ) {
    const policy = remoteCodePolicy({
      enabled: true,
      allowedHosts: ["127\\.0\\.0\\.1"],
      caCertificates: [caFile],
      ...config,
    });
    return fetchCode(url, { names: { url: "--url" }, resolve, ...extra, policy });
  }

  async function refused(
    promise: Promise<unknown>,
    kind: RemoteCodeError["kind"],
    message: RegExp,
  ): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof RemoteCodeError, String(error));
      assert.equal(error.kind, kind, error.message);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  }

  test("fetches over https from an address allowedHosts names, trusting the configured CA", async () => {
    const fetched = await fetchWith(`${server.origin}/hello.py`);
    assert.equal(fetched.code, hello);
    assert.equal(fetched.sha256, sha256(hello));
    assert.equal(fetched.url, `${server.origin}/hello.py`);
  });

  test("--hash: a match is fetched (any case), a mismatch refused", async () => {
    const ok = await fetchWith(
      `${server.origin}/hello.py`,
      {},
      { hash: sha256(hello).toUpperCase() },
    );
    assert.equal(ok.code, hello);
    await refused(
      fetchWith(`${server.origin}/hello.py`, {}, { hash: "0".repeat(64) }),
      "invalid",
      new RegExp(`^--url: ${server.origin}/hello\\.py has SHA-256 ${sha256(hello)}, not the 0{64}`),
    );
    await refused(
      fetchWith(
        `${server.origin}/hello.py`,
        {},
        { hash: "abc", names: { url: "--url", hash: "--hash" } },
      ),
      "invalid",
      /^--hash: "abc" is not a SHA-256 digest/,
    );
  });

  test("requireHash refuses a URL without a hash, before any request", async () => {
    const before = server.requests.length;
    await refused(
      fetchWith(`${server.origin}/hello.py`, { requireHash: true }),
      "refused",
      /remoteCode\.requireHash is set/,
    );
    assert.equal(server.requests.length, before);
    const ok = await fetchWith(
      `${server.origin}/hello.py`,
      { requireHash: true },
      { hash: sha256(hello) },
    );
    assert.equal(ok.code, hello);
  });

  test("disabled refuses", async () => {
    await refused(
      fetchWith(`${server.origin}/hello.py`, { enabled: false }),
      "refused",
      /not enabled/,
    );
  });

  test("http needs both the request's opt-in and allowedSchemes", async () => {
    const url = `${plain.origin}/hello.py`;
    await refused(
      fetchWith(url),
      "refused",
      /is plain http, which needs allowInsecureCodeUrl and "http" in remoteCode\.allowedSchemes; refused$/,
    );
    await refused(
      fetchWith(url, { allowedSchemes: ["https", "http"] }),
      "refused",
      /is plain http, which needs allowInsecureCodeUrl; refused$/,
    );
    await refused(
      fetchWith(url, {}, { allowInsecure: true }),
      "refused",
      /uses http, which remoteCode\.allowedSchemes leaves out/,
    );
    assert.equal(plain.requests.length, 0);
    const ok = await fetchWith(url, { allowedSchemes: ["https", "http"] }, { allowInsecure: true });
    assert.equal(ok.code, hello);
  });

  test("not a URL, another scheme, credentials: invalid", async () => {
    await refused(fetchWith("hello.py"), "invalid", /^--url: "hello\.py" is not a URL$/);
    await refused(fetchWith("ftp://127.0.0.1/x.py"), "invalid", /uses the scheme ftp/);
    await refused(
      fetchWith(`https://user:secret@127.0.0.1:${server.port}/hello.py`),
      "invalid",
      /has a user name or password/,
    );
    await assert.rejects(
      fetchWith(`https://user:secret@127.0.0.1:${server.port}/hello.py`),
      (error: Error) => !error.message.includes("secret"),
    );
  });

  test("blockedHosts wins over allowedHosts", async () => {
    await refused(
      fetchWith(`${server.origin}/hello.py`, { blockedHosts: ["127\\.0\\.0\\..*"] }),
      "refused",
      /is on 127\.0\.0\.1, blocked by remoteCode\.blockedHosts rule "127\\\.0\\\.0\\\.\.\*"; refused$/,
    );
  });

  test("a host allowedHosts leaves out is refused by name", async () => {
    await refused(
      fetchWith(`https://localhost:${server.port}/hello.py`, {
        allowedHosts: ["code\\.example\\.com", "127\\.0\\.0\\.1"],
      }),
      "refused",
      /is on localhost, which is not in remoteCode\.allowedHosts; refused$/,
    );
  });

  test("loopback is refused unless allowedHosts names the address", async () => {
    const before = server.requests.length;
    // No allowedHosts: any host, but never an internal address.
    await refused(
      fetchWith(`${server.origin}/hello.py`, { allowedHosts: undefined }),
      "refused",
      new RegExp(
        `^--url: ${server.origin}/hello\\.py is on the private address 127\\.0\\.0\\.1; refused$`,
      ),
    );
    // The name is allowed; what it resolves to is not.
    await refused(
      fetchWith(`https://localhost:${server.port}/hello.py`, { allowedHosts: ["localhost"] }),
      "refused",
      /resolves to the private address 127\.0\.0\.1; refused$/,
    );
    // A pattern that happens to match the address does not name it.
    await refused(
      fetchWith(`${server.origin}/hello.py`, { allowedHosts: ["127\\.0\\.0\\.\\d+"] }),
      "refused",
      /no remoteCode\.allowedHosts entry names/,
    );
    assert.equal(server.requests.length, before);
    const named = await fetchWith(`https://localhost:${server.port}/hello.py`, {
      allowedHosts: ["localhost", "127\\.0\\.0\\.1"],
    });
    assert.equal(named.code, hello);
  });

  test("a name with several addresses connects to the first one allowed", async () => {
    const fetched = await fetchWith(
      `http://mixed.test:${plain.port}/hello.py`,
      { allowedHosts: ["mixed\\.test", "127\\.0\\.0\\.1"], allowedSchemes: ["http"] },
      { allowInsecure: true },
    );
    assert.equal(fetched.code, hello);
  });

  test("the connection goes to the address that was checked, not to a second lookup", async () => {
    // rebind.test exists only in this test's table: a second, real lookup would fail.
    let lookups = 0;
    const counting: ResolveHost = async (host) => {
      lookups++;
      return resolve(host);
    };
    const fetched = await fetchWith(
      `http://rebind.test:${plain.port}/hello.py`,
      { allowedHosts: ["rebind\\.test", "127\\.0\\.0\\.1"], allowedSchemes: ["http"] },
      { allowInsecure: true, resolve: counting },
    );
    assert.equal(fetched.code, hello);
    assert.equal(lookups, 1);
  });

  test("redirects are followed and re-checked at every hop", async () => {
    const fetched = await fetchWith(`${server.origin}/hop1`);
    assert.equal(fetched.code, hello);
    assert.equal(fetched.url, `${server.origin}/hello.py`);
    await refused(
      fetchWith(`${server.origin}/to-private`, { allowedHosts: ["127\\.0\\.0\\.1", ".*\\.test"] }),
      "refused",
      new RegExp(
        `^--url: ${server.origin}/to-private \\(redirected to https://internal\\.test/x\\.py\\) resolves to the private address 10\\.0\\.0\\.5; refused$`,
      ),
    );
    await refused(
      fetchWith(`${server.origin}/to-metadata`, { allowedHosts: ["127\\.0\\.0\\.1", ".*"] }),
      "refused",
      /redirected to https:\/\/169\.254\.169\.254\/latest\/meta-data\) is on the address 169\.254\.169\.254, which no remoteCode\.allowedHosts entry names/,
    );
    await refused(
      fetchWith(`${server.origin}/to-ftp`),
      "invalid",
      /redirected to ftp:.*uses the scheme ftp/,
    );
  });

  test("a redirect loop, and more than 5 redirects, fail the fetch", async () => {
    await refused(fetchWith(`${server.origin}/loop`), "fetch", /\/loop redirects in a loop/);
    await refused(fetchWith(`${server.origin}/chain0`), "fetch", /redirects more than 5 times$/);
    const five = await fetchWith(`${server.origin}/chain1`);
    assert.equal(five.code, hello);
  });

  test("code larger than maxCodeSize is refused, with or without Content-Length", async () => {
    await refused(
      fetchWith(`${server.origin}/big.py`, { maxCodeSize: 1000 }),
      "refused",
      /big\.py is 4096 bytes, larger than remoteCode\.maxCodeSize \(1000 bytes\); refused$/,
    );
    await refused(
      fetchWith(`${server.origin}/big-chunked.py`, { maxCodeSize: 1000 }),
      "refused",
      /big-chunked\.py is larger than remoteCode\.maxCodeSize \(1000 bytes\); refused$/,
    );
    assert.equal((await fetchWith(`${server.origin}/big-chunked.py`)).code, big);
  });

  test("a server that never answers times out", async () => {
    const started = Date.now();
    await refused(
      fetchWith(`${server.origin}/hang.py`, { fetchTimeoutMs: 300 }),
      "fetch",
      /hang\.py did not arrive within 300 ms \(remoteCode\.fetchTimeoutMs\)$/,
    );
    assert.ok(Date.now() - started < 3000);
  });

  test("404, non-UTF-8, unknown names, refused connections and untrusted certificates", async () => {
    await refused(
      fetchWith(`${server.origin}/missing.py`),
      "fetch",
      /missing\.py answered 404 Not Found$/,
    );
    await refused(
      fetchWith(`${server.origin}/latin1.py`),
      "invalid",
      /is not valid UTF-8 text; refused$/,
    );
    await refused(
      fetchWith("https://nowhere.test/x.py", { allowedHosts: undefined }),
      "fetch",
      /nowhere\.test does not resolve/,
    );
    const closed = await startCodeServer({}, ca);
    await closed.close();
    await refused(fetchWith(`${closed.origin}/x.py`), "fetch", /ECONNREFUSED/);
    await refused(
      fetchWith(`${server.origin}/hello.py`, { caCertificates: undefined }),
      "fetch",
      /trust its CA with remoteCode\.caCertificates or NODE_EXTRA_CA_CERTS$/,
    );
  });

  test("NODE_EXTRA_CA_CERTS stays trusted when caCertificates are added", async () => {
    const other = makeTestCa();
    const otherFile = join(dir, "other-ca.pem");
    writeFileSync(otherFile, other.caPem);
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = caFile;
    try {
      const fetched = await fetchWith(`${server.origin}/hello.py`, { caCertificates: [otherFile] });
      assert.equal(fetched.code, hello);
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
  });

  test("an aborted signal cancels the fetch", async () => {
    const abort = new AbortController();
    const pending = fetchWith(`${server.origin}/hang.py`, {}, { signal: abort.signal });
    setTimeout(() => abort.abort(new Error("client left")), 100);
    await refused(pending, "fetch", /was cancelled/);
  });
});

describe("isol8 run's remote code source", () => {
  const noStdin = {
    readStdin: async () => {
      throw new Error("stdin must not be read");
    },
    stdinIsTerminal: false,
  };
  const remote = (url: string, code = "code") => ({
    flag: "--url",
    url,
    fetch: async () => code,
  });

  test("the runtime comes from the URL path's extension, --runtime wins", async () => {
    const expected: Record<string, string> = {
      ".py": "python",
      ".js": "node",
      ".mjs": "node",
      ".cjs": "node",
      ".ts": "bun",
      ".mts": "deno",
      ".sh": "bash",
    };
    for (const [ext, runtime] of Object.entries(expected)) {
      assert.deepEqual(
        await resolveCodeInput({ ...noStdin, remote: remote(`https://x.test/a/b${ext}?q=1`) }),
        { code: "code", runtime, fileExtension: ext },
      );
    }
    assert.deepEqual(
      await resolveCodeInput({ ...noStdin, remote: remote("https://x.test/run"), runtime: "node" }),
      { code: "code", runtime: "node" },
    );
    await assert.rejects(
      resolveCodeInput({ ...noStdin, remote: remote("https://x.test/run.txt") }),
      /^Error: --url: cannot tell the runtime of https:\/\/x\.test\/run\.txt from its extension "\.txt".*use --runtime$/,
    );
  });

  test("exactly one code source", async () => {
    await assert.rejects(
      resolveCodeInput({ ...noStdin, eval: "1", remote: remote("https://x.test/a.py") }),
      /give only one code source, not --url and --eval$/,
    );
    await assert.rejects(
      resolveCodeInput({ ...noStdin, file: "a.py", remote: remote("https://x.test/a.py") }),
      /give only one code source, not --url and a file$/,
    );
    assert.throws(
      () => remoteCodeSource({ url: "https://x.test/a.py", gist: "abc/a.py" }),
      /give one of --url, --github and --gist, not --url and --gist/,
    );
    assert.throws(() => remoteCodeSource({ hash: "0".repeat(64) }), /--hash needs --url/);
    assert.throws(
      () => remoteCodeSource({ allowInsecureCodeUrl: true }),
      /--allow-insecure-code-url needs --url/,
    );
    assert.equal(remoteCodeSource({}), undefined);
  });

  test("refusals and bad input exit 2, failed fetches 125", () => {
    const exit = (kind: RemoteCodeError["kind"]) =>
      (remoteCodeCliError(new RemoteCodeError(kind, "x")) as CliError).exitCode;
    assert.equal(exit("refused"), 2);
    assert.equal(exit("invalid"), 2);
    assert.equal(exit("fetch"), 125);
    assert.ok(remoteCodeCliError(new RemoteCodeError("fetch", "x")) instanceof CliError);
  });
});
