import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  isLoopbackAddress,
  isLoopbackRequest,
  splitHostHeader,
} from "../../src/network/loopback.js";

describe("loopback addresses", () => {
  test("exact loopback names and addresses", () => {
    for (const address of ["localhost", "LOCALHOST", "127.0.0.1", "127.3.2.1", "::1", "[::1]"])
      assert.ok(isLoopbackAddress(address), address);
    assert.ok(isLoopbackAddress("::ffff:127.0.0.1"));
  });

  test("names that only start like one, other spellings and other addresses are not", () => {
    for (const address of [
      "127.0.0.1.attacker.example",
      "127.attacker.example",
      "localhost.attacker.example",
      "127.1",
      "0x7f.0.0.1",
      "2130706433",
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "",
    ])
      assert.ok(!isLoopbackAddress(address), address);
  });

  test("a Host header is split without normalizing its name", () => {
    assert.deepEqual(splitHostHeader("127.1:80"), { name: "127.1", port: 80 });
    assert.deepEqual(splitHostHeader("[::1]:8080"), { name: "[::1]", port: 8080 });
    assert.deepEqual(splitHostHeader("localhost"), { name: "localhost", port: 80 });
    assert.equal(splitHostHeader("a:b:c"), undefined);
    assert.equal(splitHostHeader("localhost:99999"), undefined);
  });
});

describe("loopback requests (DNS rebinding)", () => {
  const port = 4321;
  test("Host and Origin on loopback with the listening port pass", () => {
    assert.ok(isLoopbackRequest({ host: `127.0.0.1:${port}` }, port));
    assert.ok(isLoopbackRequest({ host: `[::1]:${port}` }, port));
    assert.ok(
      isLoopbackRequest({ host: `localhost:${port}`, origin: `http://localhost:${port}` }, port),
    );
  });

  test("a look-alike name, another port or a missing Host is refused", () => {
    for (const headers of [
      { host: `127.0.0.1.attacker.example:${port}` },
      { host: `127.0.0.1:${port + 1}` },
      { host: "127.0.0.1" },
      {},
      { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1.attacker.example:${port}` },
      { host: `127.0.0.1:${port}`, origin: "http://127.0.0.1:8080" },
      { host: `127.0.0.1:${port}`, origin: "http://127.0.0.1" },
      { host: `127.0.0.1:${port}`, origin: "null" },
      { host: `127.0.0.1:${port}`, origin: `https://attacker.example:${port}` },
    ])
      assert.ok(!isLoopbackRequest(headers, port), JSON.stringify(headers));
  });
});

describe("loopback edges", () => {
  test("brackets count only as a pair around the whole address", () => {
    for (const address of ["[::1", "::1]", "x::1]", "[::1x", "[127.0.0.1"])
      assert.ok(!isLoopbackAddress(address), address);
  });

  test("the highest port is a port; one above is not", () => {
    assert.deepEqual(splitHostHeader("localhost:65535"), { name: "localhost", port: 65535 });
    assert.equal(splitHostHeader("localhost:65536"), undefined);
  });

  test("an Origin is the whole header: no prefix before http://, nothing after a line break", () => {
    const host = "127.0.0.1:3000";
    assert.ok(isLoopbackRequest({ host, origin: "http://127.0.0.1:3000" }, 3000));
    for (const origin of [
      "xhttp://127.0.0.1:3000",
      "http://127.0.0.1:3000\nevil",
      "https://127.0.0.1:3000",
    ])
      assert.ok(!isLoopbackRequest({ host, origin }, 3000), JSON.stringify(origin));
  });
});
