import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import {
  compilePolicy,
  decideAddress,
  decideDestination,
  hasNestedRepetition,
  isInternalAddress,
  normalizeHost,
  widenPolicy,
} from "../../src/network/policy.js";

const allowed = (policy: ReturnType<typeof compilePolicy>, host: string, port = 443) =>
  decideDestination(policy, normalizeHost(host) as string, port).allow;

describe("host normalization", () => {
  it("lower-cases, drops one trailing dot, converts IDNA and canonicalizes addresses", () => {
    assert.equal(normalizeHost("EXAMPLE.COM."), "example.com");
    assert.equal(normalizeHost("Bücher.Example"), "xn--bcher-kva.example");
    assert.equal(normalizeHost("[::FFFF:7f00:1]"), "::ffff:7f00:1");
    assert.equal(normalizeHost("2130706433"), "127.0.0.1");
    assert.equal(normalizeHost("0x7f.1"), "127.0.0.1");
    assert.equal(normalizeHost("example.com.."), undefined);
    assert.equal(normalizeHost(""), undefined);
  });
});

describe("allow and deny rules", () => {
  it("match the whole name only", () => {
    const policy = compilePolicy({ whitelist: ["example\\.com"] });
    assert.equal(allowed(policy, "example.com"), true);
    assert.equal(allowed(policy, "EXAMPLE.com."), true);
    assert.equal(allowed(policy, "example.com.attacker.net"), false);
    assert.equal(allowed(policy, "notexample.com"), false);
    assert.equal(allowed(policy, "www.example.com"), false);
  });

  it("deny wins over allow, whatever the spelling of the name", () => {
    const policy = compilePolicy({
      whitelist: [".*\\.example\\.com"],
      blacklist: ["secret\\.example\\.com"],
    });
    assert.equal(allowed(policy, "api.example.com"), true);
    for (const name of ["secret.example.com", "SECRET.EXAMPLE.COM.", "Secret.Example.Com"])
      assert.equal(allowed(policy, name), false, name);
  });

  it("an empty allow list allows nothing", () => {
    const decision = decideDestination(compilePolicy({}), "example.com", 443);
    assert.deepEqual(decision, { allow: false, reason: "not on the allow list" });
  });

  it("a rule written in Unicode matches the punycode name", () => {
    const policy = compilePolicy({ whitelist: ["bücher\\.example"], blacklist: [] });
    assert.equal(allowed(policy, "xn--bcher-kva.example"), true);
    const deny = compilePolicy({ whitelist: [".*"], blacklist: ["bücher\\.example"] });
    assert.equal(allowed(deny, "BÜCHER.example."), false);
  });

  it("allows ports 80 and 443 unless a rule or the port list says otherwise", () => {
    const policy = compilePolicy({ whitelist: ["example\\.com", "mirror\\.example:8443"] });
    assert.equal(allowed(policy, "example.com", 80), true);
    assert.equal(allowed(policy, "example.com", 22), false);
    assert.equal(allowed(policy, "mirror.example", 8443), true);
    assert.equal(allowed(policy, "example.com", 8443), false);
    const ports = compilePolicy({ whitelist: ["example\\.com"], ports: [8080] });
    assert.equal(allowed(ports, "example.com", 443), false);
    assert.equal(allowed(ports, "example.com", 8080), true);
  });

  it("an IP-literal destination needs a rule that is that address", () => {
    const broad = compilePolicy({ whitelist: [".*"] });
    assert.equal(allowed(broad, "93.184.216.34"), false);
    assert.equal(allowed(broad, "[2606:2800:220:1::1]"), false);
    const named = compilePolicy({ whitelist: ["93\\.184\\.216\\.34", "2606:2800:220:1::1"] });
    assert.equal(allowed(named, "93.184.216.34"), true);
    assert.equal(allowed(named, "[2606:2800:0220:0001:0000::1]"), true);
  });

  it("refuses bad patterns and ports, naming the field", () => {
    assert.throws(
      () => compilePolicy({ whitelist: ["ok", "(unclosed"] }),
      (e: Error) =>
        e instanceof InvalidOptionError &&
        /^networkFilter\.whitelist\[1\]: "\(unclosed" is not a valid regular expression/.test(
          e.message,
        ),
    );
    assert.throws(
      () => compilePolicy({ blacklist: [""] }),
      /networkFilter\.blacklist\[0\]: a rule must be a non-empty pattern/,
    );
    assert.throws(
      () => compilePolicy({ ports: [0] }),
      /networkFilter\.ports\[0\]: 0 is not a port/,
    );
    assert.throws(() => compilePolicy({ whitelist: ["x:70000"] }), /port 70000 is not a port/);
  });
});

describe("resolved addresses", () => {
  it("refuses loopback, private, link-local, metadata and mapped forms of them", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fd00:ec2::254",
      "fc00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:a9fe:a9fe",
      "64:ff9b::a00:1",
    ])
      assert.equal(isInternalAddress(address), true, address);
    for (const address of ["93.184.216.34", "2606:2800:220:1::1", "::ffff:93.184.216.34"])
      assert.equal(isInternalAddress(address), false, address);
  });

  it("lets through an internal address only when an allow rule names it", () => {
    const policy = compilePolicy({ whitelist: ["internal\\.test", "127\\.0\\.0\\.1"] });
    assert.equal(decideAddress(policy, "127.0.0.1", 443).allow, true);
    assert.equal(decideAddress(policy, "127.0.0.2", 443).allow, false);
    assert.equal(decideAddress(compilePolicy({ whitelist: [".*"] }), "10.0.0.1", 443).allow, false);
    assert.equal(decideAddress(policy, "93.184.216.34", 443).allow, true);
    const denied = compilePolicy({ whitelist: [".*"], blacklist: ["93\\.184\\.216\\.34"] });
    assert.equal(decideAddress(denied, "93.184.216.34", 443).allow, false);
  });

  it("widening adds the registry's rules and keeps the deny list", () => {
    const base = compilePolicy({ whitelist: [], blacklist: ["registry\\.npmjs\\.org"] });
    const wide = widenPolicy(base, ["registry\\.npmjs\\.org", "pypi\\.org"]);
    assert.equal(allowed(wide, "pypi.org"), true);
    assert.equal(allowed(wide, "registry.npmjs.org"), false);
  });

  it("a deny rule for an IPv4 address also stops its IPv6 forms (mapped, NAT64)", () => {
    const policy = compilePolicy({ whitelist: [".*"], blacklist: ["93\\.184\\.216\\.34"] });
    for (const address of [
      "93.184.216.34",
      "::ffff:93.184.216.34",
      "::ffff:5db8:d822",
      "64:ff9b::5db8:d822",
    ])
      assert.equal(decideAddress(policy, address, 443).allow, false, address);
  });
});

describe("rules that could run away", () => {
  it("refuses repeated groups that repeat or alternate inside; allows the optional-subdomain form", () => {
    for (const bad of ["(.*\\.)*example\\.com", "(a+)+", "(a|b)*c", "((ab)*)+", "(x{2,})*"])
      assert.equal(hasNestedRepetition(bad), true, bad);
    for (const good of [
      "(.+\\.)?example\\.com",
      "(a|b)?c",
      "[(a+)*]x",
      "\\(a+\\)*",
      "(ab){1}",
      "api\\.example\\.com",
    ])
      assert.equal(hasNestedRepetition(good), false, good);
    assert.equal(hasNestedRepetition("(\\.+)*x"), true, "a repeat after an escape counts");
    assert.equal(hasNestedRepetition("((a+)b)*"), true, "a repeat two groups down counts");
    assert.throws(() => compilePolicy({ whitelist: ["a*a*a*b"] }), /has more than 2 repeats/);
    assert.doesNotThrow(() =>
      compilePolicy({ whitelist: ["(.+\\.)?api\\.(.+\\.)?example\\.com"] }),
    );
    assert.throws(
      () => compilePolicy({ whitelist: ["(.*\\.)*example\\.com"] }),
      /can take exponential time/,
    );
  });

  it("refuses unbalanced groups that would escape the anchoring", () => {
    assert.throws(
      () => compilePolicy({ whitelist: ["good\\.test)|(.*"] }),
      /not a valid regular expression/,
    );
  });

  it("refuses names longer than DNS allows and zone ids", () => {
    assert.equal(normalizeHost(`${"a".repeat(64)}.test`), undefined);
    assert.equal(normalizeHost(`${"a.".repeat(127)}aa`), undefined);
    assert.equal(normalizeHost("[fe80::1%eth0]"), undefined);
  });

  it("an IPv6 address rule may carry a port in brackets", () => {
    const policy = compilePolicy({ whitelist: ["[fd00::5]:4873"] });
    assert.equal(decideDestination(policy, "fd00::5", 4873).allow, true);
    assert.equal(decideDestination(policy, "fd00::5", 443).allow, false);
    assert.equal(decideAddress(policy, "fd00::5", 4873).allow, true);
  });
});
