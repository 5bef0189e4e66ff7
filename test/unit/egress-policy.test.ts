import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { describe, it } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import {
  compilePolicy,
  decideAddress,
  decideDestination,
  hasNestedRepetition,
  isInternalAddress,
  normalizeHost,
  repeatCount,
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

/**
 * Every range the gateway refuses a resolved address in. Kept here rather
 * than read from the source, so that a range dropped from the source fails
 * the test instead of quietly leaving it.
 */
const INTERNAL_V4: readonly [string, number, string][] = [
  ["0.0.0.0", 8, "this network"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local and cloud metadata"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["224.0.0.0", 3, "multicast, reserved and broadcast"],
];
const INTERNAL_V6: readonly [string, number, string][] = [
  ["::", 96, "unspecified, loopback, IPv4-compatible"],
  ["64:ff9b:1::", 48, "local-use NAT64"],
  ["2002::", 16, "6to4"],
  ["fec0::", 10, "site-local"],
  ["fc00::", 7, "unique local"],
  ["fe80::", 10, "link-local"],
  ["ff00::", 8, "multicast"],
];

const v4ToNumber = (a: string) => a.split(".").reduce((n, part) => n * 256 + Number(part), 0);
const numberToV4 = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");

function v6ToBigInt(address: string): bigint {
  const [head = "", tail] = address.split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<string>(8 - front.length - back.length).fill("0"), ...back];
  return groups.reduce((n, group) => (n << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}
/** Eight full groups, uncompressed: the checks must canonicalize for themselves. */
const bigIntToV6 = (n: bigint) =>
  Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(
    ":",
  );

/** The first, a middle and the last address of each range. */
function samplesV4(net: string, bits: number): string[] {
  const first = v4ToNumber(net);
  const size = 2 ** (32 - bits);
  return [first, first + Math.floor(size / 2) + 1, first + size - 1].map(numberToV4);
}
function samplesV6(net: string, bits: number): string[] {
  const first = v6ToBigInt(net);
  const size = 1n << BigInt(128 - bits);
  return [first, first + size / 2n + 1n, first + size - 1n].map(bigIntToV6);
}

describe("every internal range is refused, even when every name is allowed", () => {
  const everything = compilePolicy({ whitelist: [".*"] });
  const refused = (address: string) => {
    const decision = decideAddress(everything, address, 443);
    assert.equal(decision.allow, false, `${address} was let through`);
    assert.match(
      decision.allow ? "" : decision.reason,
      /^resolves to the internal address /,
      address,
    );
    assert.equal(isInternalAddress(address), true, address);
  };
  const through = (address: string) => {
    assert.deepEqual(decideAddress(everything, address, 443), { allow: true }, address);
    assert.equal(isInternalAddress(address), false, address);
  };

  for (const [net, bits, what] of INTERNAL_V4)
    it(`${net}/${bits} (${what}): its first, middle and last address, also mapped into IPv6, NAT64 and 6to4`, () => {
      for (const address of samplesV4(net, bits)) {
        const [a, b, c, d] = address.split(".").map(Number) as [number, number, number, number];
        const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
        refused(address);
        refused(`::ffff:${address}`);
        refused(`::ffff:${hex(a, b)}:${hex(c, d)}`);
        refused(`64:ff9b::${hex(a, b)}:${hex(c, d)}`);
        refused(`2002:${hex(a, b)}:${hex(c, d)}::1`);
      }
    });

  for (const [net, bits, what] of INTERNAL_V6)
    it(`${net}/${bits} (${what}): its first, middle and last address, uncompressed too`, () => {
      for (const address of samplesV6(net, bits)) {
        refused(address);
        refused(address.replace(/(^|:)0(:0)+(:|$)/, "::").replace(/^::::?/, "::"));
      }
    });

  it("the IPv4 ranges end where they should: the addresses either side of each are let through", () => {
    for (const [net, bits] of INTERNAL_V4) {
      const first = v4ToNumber(net);
      const neighbours = [first - 1, first + 2 ** (32 - bits)].filter((n) => n >= 0 && n < 2 ** 32);
      for (const n of neighbours.map(numberToV4))
        if (!INTERNAL_V4.some(([other, b]) => samplesV4(other, b)[0] === n)) through(n);
    }
    for (const address of ["8.8.8.8", "93.184.216.34", "2606:2800:220:1::1", "64:ff9b::808:808"])
      through(address);
  });

  it("this host's own addresses, on every interface, are refused", () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .flatMap((entry) => (entry ? [entry.address.split("%")[0] as string] : []));
    assert.ok(own.length > 0, "this host has addresses");
    for (const address of own) refused(address);
  });
});

describe("egress policy edges", () => {
  const refusedWith = (run: () => unknown, message: string) =>
    assert.throws(
      run,
      (error: unknown) => error instanceof InvalidOptionError && error.message === message,
    );

  it("ports 1 and 65535 are ports; 0, 65536 and fractions are not", () => {
    assert.deepEqual([...compilePolicy({ ports: [1, 65535] }).ports], [1, 65535]);
    for (const port of [0, 65536, 1.5])
      refusedWith(
        () => compilePolicy({ ports: [80, port] }),
        `networkFilter.ports[1]: ${port} is not a port (1-65535)`,
      );
    assert.equal(compilePolicy({ whitelist: ["a:1"] }).allow[0]?.port, 1);
    assert.equal(compilePolicy({ whitelist: ["a:65535"] }).allow[0]?.port, 65535);
    for (const port of ["0", "65536"])
      refusedWith(
        () => compilePolicy({ whitelist: [`a:${port}`] }),
        `networkFilter.whitelist[0]: port ${port} is not a port (1-65535)`,
      );
  });

  it("a rule's port suffix is the whole end of the rule; spaces around a rule are dropped", () => {
    const policy = compilePolicy({ whitelist: ["  example\\.com:8080  ", "[::1]:9000x", "a:80b"] });
    assert.equal(policy.allow[0]?.port, 8080);
    assert.ok(policy.allow[0]?.pattern.test("example.com"));
    assert.equal(policy.allow[1]?.port, undefined);
    assert.equal(policy.allow[2]?.port, undefined);
    assert.equal("port" in (policy.allow[2] ?? {}), false);
    assert.equal(compilePolicy({ whitelist: ["x\\[::1]:80"] }).allow[0]?.port, 80);
    refusedWith(
      () => compilePolicy({ blacklist: ["ok", "   "] }),
      "networkFilter.blacklist[1]: a rule must be a non-empty pattern",
    );
    refusedWith(
      () => widenPolicy(compilePolicy(), [""]),
      "registry[0]: a rule must be a non-empty pattern",
    );
    assert.deepEqual(compilePolicy({}).allow, []);
    assert.deepEqual(compilePolicy({}).deny, []);
  });

  it("patterns match case-insensitively", () => {
    const policy = compilePolicy({ whitelist: ["example\\.com"] });
    assert.deepEqual(decideDestination(policy, "EXAMPLE.com", 443), { allow: true });
  });

  it("repeats are counted outside character classes and escapes only", () => {
    assert.equal(repeatCount("a*b+c{2,}d{3}e{0,1}f{1,5}g{,}h{x}"), 6);
    assert.equal(repeatCount("[*+{2,}]\\*\\+\\{2,}"), 0);
    assert.equal(repeatCount("[\\]*]+"), 1);
    assert.equal(repeatCount("a{1}b{2}"), 1);
    assert.equal(repeatCount("a{0,}b{1,1}"), 1);
    assert.equal(repeatCount("[abc"), 0);
    assert.equal(repeatCount("a]*"), 1);
  });

  it("nested repetition: a group that repeats or alternates, repeated again", () => {
    for (const pattern of ["(a+)*", "(a|b)+", "((a+))*", "((a|b)c)+", "(a{2,})+", "(a*)(b+)+"])
      assert.ok(hasNestedRepetition(pattern), pattern);
    for (const pattern of [
      "(a+)?",
      "(ab)+",
      "(a)(b+)",
      "a|b",
      "(a+)",
      "([|+])+",
      "(\\|)+",
      "(a)|b+",
      "((a)b)+",
    ])
      assert.ok(!hasNestedRepetition(pattern), pattern);
  });

  it("host names: brackets only as a pair, a zone id only on IPv6, limits on lengths", () => {
    assert.equal(normalizeHost(" Example.COM. "), "example.com");
    assert.equal(normalizeHost("[::1"), undefined);
    assert.equal(normalizeHost("::1]"), undefined);
    assert.equal(normalizeHost("a%b.example"), undefined);
    assert.equal(normalizeHost("."), undefined);
    assert.equal(normalizeHost(""), undefined);
    assert.equal(normalizeHost("a.."), undefined);
    const label = "a".repeat(63);
    assert.equal(normalizeHost(`${label}.example`), `${label}.example`);
    assert.equal(normalizeHost(`${label}a.example`), undefined);
    const name = `${"a.".repeat(126)}b`; // 253 characters
    assert.equal(normalizeHost(name), name);
    assert.equal(normalizeHost(`a${name}`), undefined);
  });

  it("a Unicode rule matches the punycode name; an ASCII name is not tried twice", () => {
    const policy = compilePolicy({ whitelist: ["bücher\\.example"] });
    assert.deepEqual(decideDestination(policy, "xn--bcher-kva.example", 443), { allow: true });
    assert.deepEqual(decideDestination(policy, "bucher.example", 443), {
      allow: false,
      reason: "not on the allow list",
    });
  });

  it("ports: the filter's list, or a rule naming the port for its own host or address", () => {
    const policy = compilePolicy({
      whitelist: ["a\\.example:8443", "b\\.example", "93\\.184\\.216\\.34:8080", "93.184.216.35"],
    });
    assert.deepEqual(decideDestination(policy, "a.example", 8443), { allow: true });
    assert.deepEqual(decideDestination(policy, "a.example", 443), {
      allow: false,
      reason: "not on the allow list",
    });
    assert.deepEqual(decideDestination(policy, "b.example", 8443), {
      allow: false,
      reason: "port 8443 is not allowed",
    });
    assert.deepEqual(decideDestination(policy, "93.184.216.34", 8080), { allow: true });
    assert.deepEqual(decideDestination(policy, "93.184.216.34", 443), {
      allow: false,
      reason: "IP-address destinations need an allow rule naming the address",
    });
    assert.deepEqual(decideDestination(policy, "93.184.216.35", 443), { allow: true });
    assert.deepEqual(decideDestination(policy, "93.184.216.35", 8080), {
      allow: false,
      reason: "port 8080 is not allowed",
    });
  });

  it("resolved addresses: deny rules and allow rules see the IPv4 inside an IPv6 form", () => {
    const policy = compilePolicy({
      whitelist: ["10\\.1\\.2\\.3:8080", "192.168.1.1", "example\\.com"],
      blacklist: ["93.184.216.34", "bad\\.example"],
    });
    for (const address of [
      "93.184.216.34",
      "::ffff:93.184.216.34",
      "::ffff:5db8:d822",
      "64:ff9b::5db8:d822",
    ])
      assert.deepEqual(decideAddress(policy, address, 443), {
        allow: false,
        reason: `address ${address === "93.184.216.34" ? address : new URL(`http://[${address}]/`).hostname.slice(1, -1)} denied by rule "93.184.216.34"`,
      });
    assert.deepEqual(decideAddress(policy, "10.1.2.3", 8080), { allow: true });
    assert.deepEqual(decideAddress(policy, "::ffff:10.1.2.3", 8080), { allow: true });
    assert.deepEqual(decideAddress(policy, "10.1.2.3", 443), {
      allow: false,
      reason: "resolves to the internal address 10.1.2.3",
    });
    assert.deepEqual(decideAddress(policy, "192.168.1.1", 9999), { allow: true });
    assert.deepEqual(decideAddress(policy, "192.168.1.2", 443), {
      allow: false,
      reason: "resolves to the internal address 192.168.1.2",
    });
    assert.deepEqual(decideAddress(policy, "93.184.216.35", 443), { allow: true });
    assert.deepEqual(
      decideAddress(compilePolicy({ whitelist: ["example\\.com"] }), "10.0.0.1", 443),
      {
        allow: false,
        reason: "resolves to the internal address 10.0.0.1",
      },
    );
  });

  it("internal addresses, including IPv4 carried in IPv6, and anything that is not an address", () => {
    for (const address of [
      "not-an-ip",
      "",
      "::ffff:7f00:1",
      "64:ff9b::a00:1",
      "::ffff:10.0.0.1",
      "fe80::1",
      "::1",
    ])
      assert.ok(isInternalAddress(address), address);
    for (const address of [
      "93.184.216.34",
      "::ffff:5db8:d822",
      "64:ff9b::5db8:d822",
      "2606:4700::1111",
      "::ffff:1:2:3",
    ])
      assert.ok(!isInternalAddress(address), address);
    // Two groups that are not hex are no IPv4 address: judged as the IPv6 address they are.
    assert.ok(!isInternalAddress("64:ff9b::1:2:3"));
  });
});

describe("egress policy: what each check is for", () => {
  it("a rule that is not a string is refused as a bad rule, naming the field", () => {
    assert.throws(
      () => compilePolicy({ whitelist: ["ok", 7 as unknown as string] }),
      (error: unknown) =>
        error instanceof InvalidOptionError &&
        error.message === "networkFilter.whitelist[1]: a rule must be a non-empty pattern",
    );
  });

  it("a port suffix ends a rule that is one name: a line break keeps the whole rule as the pattern", () => {
    const rule = compilePolicy({ whitelist: ["evil\nexample\\.com:443"] }).allow[0];
    assert.equal(rule?.port, undefined);
    assert.equal(rule?.pattern.test("example.com"), false);
  });

  it("a bracketed address with a port is the whole rule, not the end of a name", () => {
    const rule = compilePolicy({ whitelist: ["x\\[::1]:80"] }).allow[0];
    assert.equal(rule?.address, undefined);
    assert.equal(rule?.pattern.test("::1"), false);
    assert.equal(rule?.pattern.test("x[::1]"), true);
  });

  it("a rule written in capitals matches the lower-case name", () => {
    const policy = compilePolicy({ whitelist: ["Example\\.COM"] });
    assert.deepEqual(decideDestination(policy, "example.com", 443), { allow: true });
  });

  it("a deny says which rule refused the name", () => {
    const policy = compilePolicy({ whitelist: [".*"], blacklist: ["bad\\.example"] });
    assert.deepEqual(decideDestination(policy, "bad.example", 443), {
      allow: false,
      reason: 'denied by rule "bad\\.example"',
    });
  });

  it("a Unicode rule matches its own punycode name only, and a punycode rule still matches", () => {
    const policy = compilePolicy({ whitelist: ["bücher\\.example"] });
    assert.deepEqual(decideDestination(policy, "xn--caf-dma.example", 443), {
      allow: false,
      reason: "not on the allow list",
    });
    const punycode = compilePolicy({ whitelist: ["xn--bcher-kva\\.example"] });
    assert.deepEqual(decideDestination(punycode, "xn--bcher-kva.example", 443), { allow: true });
  });

  it("an IPv6 address rule written out in full opens its port for the canonical address", () => {
    const policy = compilePolicy({
      whitelist: ["example\\.com", "[2606:2800:0220:0001:0000::1]:8443"],
    });
    assert.deepEqual(decideDestination(policy, "2606:2800:220:1::1", 8443), { allow: true });
    assert.deepEqual(decideDestination(policy, "2606:2800:220:1::1", 8080), {
      allow: false,
      reason: "IP-address destinations need an allow rule naming the address",
    });
  });

  it("something that is not an address is never matched against address rules", () => {
    // Shaped like a mapped IPv4 address, but not one: no rule names it.
    const notAnAddress = "0:0:0:0:0:ffff::zz";
    const allow = compilePolicy({ whitelist: ["0\\.0\\.0\\.0"] });
    assert.deepEqual(decideAddress(allow, notAnAddress, 443), {
      allow: false,
      reason: `resolves to the internal address ${notAnAddress}`,
    });
    const deny = compilePolicy({ whitelist: [".*"], blacklist: ["0\\.0\\.0\\.0"] });
    assert.deepEqual(decideAddress(deny, notAnAddress, 443), {
      allow: false,
      reason: `resolves to the internal address ${notAnAddress}`,
    });
  });

  it("host names: a closing bracket alone is not stripped; percent escapes read as the URL parser reads them", () => {
    assert.equal(normalizeHost("xexample.com]"), undefined);
    assert.equal(normalizeHost("%41pi.Example"), "api.example");
    assert.equal(normalizeHost("127.0.0.1%eth0"), undefined);
  });

  it("syntax scanning: a stray closing bracket or parenthesis, bounds that are not quantifiers", () => {
    assert.equal(repeatCount("a][*]+"), 1);
    assert.equal(repeatCount("a{x}b{2}"), 1);
    assert.equal(hasNestedRepetition("a)+"), false);
    assert.equal(hasNestedRepetition("a+)*"), false);
  });
});
