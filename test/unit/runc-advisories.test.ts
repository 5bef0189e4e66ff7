import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compareDebianVersions,
  describeRunc,
  type HostRelease,
  missingRuncFixes,
  parseOsRelease,
  parseRuncVersion,
  type RuncVersion,
} from "../../src/host/runc-advisories.js";

const ALL = [
  "CVE-2024-21626",
  "CVE-2024-45310",
  "CVE-2025-31133",
  "CVE-2025-52565",
  "CVE-2025-52881",
];
const OF_2025 = ["CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"];

function parsed(text: string): RuncVersion {
  const version = parseRuncVersion(text);
  assert.ok(version, `parses: ${text}`);
  return version;
}

/** The CVE ids a `runc --version` text lacks fixes for. */
function missing(text: string, host?: HostRelease): string[] {
  return missingRuncFixes(parsed(text), host).map((fix) => fix.id);
}

function upstream(version: string, commit = `v${version}-0-g51d5e94`): string {
  return `runc version ${version}\ncommit: ${commit}\nspec: 1.0.2-dev\ngo: go1.22.5\nlibseccomp: 2.5.5\n`;
}

function debian(packageVersion: string): string {
  const [upstreamPart] = packageVersion.split("-");
  return `runc version ${upstreamPart}\ncommit: ${packageVersion}\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n`;
}

const ubuntu = (packageVersion: string) =>
  `runc version ${packageVersion}\nspec: 1.0.2-dev\ngo: go1.22.2\nlibseccomp: 2.5.5\n`;

describe("runc --version output", () => {
  test("an upstream build, a Debian package and an Ubuntu package", () => {
    assert.deepEqual(parsed(upstream("1.1.12")), {
      kind: "upstream",
      version: "1.1.12",
      upstream: { major: 1, minor: 1, patch: 12 },
    });
    assert.deepEqual(parsed(debian("1.1.5+ds1-1+deb12u1")), {
      kind: "package",
      version: "1.1.5+ds1-1+deb12u1",
      family: "debian",
      release: "12",
      upstream: { major: 1, minor: 1, patch: 5 },
    });
    assert.deepEqual(parsed(ubuntu("1.3.3-0ubuntu1~24.04.2")), {
      kind: "package",
      version: "1.3.3-0ubuntu1~24.04.2",
      family: "ubuntu",
      release: "24.04",
      upstream: { major: 1, minor: 3, patch: 3 },
    });
    const candidate = parsed(upstream("1.4.0-rc.2"));
    assert.equal(candidate.kind, "upstream");
    assert.deepEqual(candidate.upstream, { major: 1, minor: 4, patch: 0, rc: 2 });
    assert.equal(parsed(upstream("1.2.0-rc.1+dev", "0123456789abcdef")).kind, "upstream");
    assert.deepEqual(parsed(debian("1.0.0~rc93+ds1-5+deb11u3")).upstream, {
      major: 1,
      minor: 0,
      patch: 0,
      rc: 93,
    });
  });

  test("garbage is no version", () => {
    for (const text of [
      "",
      "runc version\n",
      "runc version banana\ncommit: 1\n",
      "version 1.1.12\n",
      "crun version 1.8.1\n",
      "\u0000\u0001\u00ff",
    ])
      assert.equal(parseRuncVersion(text), undefined, JSON.stringify(text));
  });

  test("/etc/os-release: ID and VERSION_ID, quoted or not", () => {
    assert.deepEqual(
      parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n'),
      {
        id: "debian",
        versionId: "12",
      },
    );
    assert.deepEqual(parseOsRelease("ID='ubuntu'\nVERSION_ID=24.04\n"), {
      id: "ubuntu",
      versionId: "24.04",
    });
    assert.deepEqual(parseOsRelease("ID=debian\n"), { id: "debian", versionId: undefined });
    assert.equal(parseOsRelease("NAME=Something\n"), undefined);
    assert.equal(parseOsRelease(""), undefined);
  });
});

describe("upstream builds are judged per release line", () => {
  test("CVE-2024-21626: 1.1.11 lacks it, 1.1.12 has it; runc before 1.0.0-rc93 was never affected", () => {
    assert.ok(missing(upstream("1.1.11")).includes("CVE-2024-21626"));
    assert.ok(!missing(upstream("1.1.12")).includes("CVE-2024-21626"));
    assert.ok(missing(upstream("1.0.0-rc93")).includes("CVE-2024-21626"));
    assert.ok(!missing(upstream("1.0.0-rc92")).includes("CVE-2024-21626"));
    const [fix] = missingRuncFixes(parsed(upstream("1.0.3")));
    assert.deepEqual(fix, {
      id: "CVE-2024-21626",
      severity: "high",
      reason: "no fixed 1.0 release upstream (fixed in 1.1.12)",
    });
  });

  test("CVE-2024-45310: 1.1.14 and 1.2.0-rc.3", () => {
    assert.ok(missing(upstream("1.1.13")).includes("CVE-2024-45310"));
    assert.ok(!missing(upstream("1.1.14")).includes("CVE-2024-45310"));
    assert.ok(missing(upstream("1.2.0-rc.2")).includes("CVE-2024-45310"));
    assert.ok(!missing(upstream("1.2.0-rc.3")).includes("CVE-2024-45310"));
  });

  test("the 2025 CVEs: 1.2.7 lacks them, 1.2.8 and 1.3.3 have them, 1.1 never got them", () => {
    assert.deepEqual(missing(upstream("1.2.7")), OF_2025);
    assert.deepEqual(missing(upstream("1.2.8")), []);
    assert.deepEqual(missing(upstream("1.3.2")), OF_2025);
    assert.deepEqual(missing(upstream("1.3.3")), []);
    assert.deepEqual(missing(upstream("1.3.0-rc.1")), OF_2025);
    assert.deepEqual(missing(upstream("1.1.15")), OF_2025);
    const fixes = missingRuncFixes(parsed(upstream("1.2.7")));
    assert.equal(fixes[0]?.reason, "first fixed upstream in 1.2.8");
    assert.equal(
      missingRuncFixes(parsed(upstream("1.1.15")))[0]?.reason,
      "no fixed 1.1 release upstream (fixed in 1.2.8, 1.3.3, 1.4.0-rc.3)",
    );
  });

  test("a release candidate comes before its release: 1.4.0-rc.2 lacks the 2025 fixes, rc.3 and later have them", () => {
    assert.deepEqual(missing(upstream("1.4.0-rc.2")), OF_2025);
    assert.deepEqual(missing(upstream("1.4.0-rc.3")), []);
    assert.deepEqual(missing(upstream("1.4.0")), []);
    assert.deepEqual(missing(upstream("1.5.0")), [], "a line newer than every fix started with it");
    assert.deepEqual(missing(upstream("1.1.5")), ALL.slice(0));
  });
});

describe("distribution packages are judged by their release's backports", () => {
  test("Debian 12's 1.1.5+ds1-1+deb12u1 has the CVE-2024-21626 backport and nothing later", () => {
    const fixes = missingRuncFixes(parsed(debian("1.1.5+ds1-1+deb12u1")));
    assert.deepEqual(
      fixes.map((fix) => fix.id),
      ["CVE-2024-45310", ...OF_2025],
    );
    for (const fix of fixes) assert.equal(fix.reason, "no fixed release known for Debian 12");
    assert.equal(
      describeRunc(parsed(debian("1.1.5+ds1-1+deb12u1"))),
      "runc 1.1.5+ds1-1+deb12u1 (Debian 12's package)",
    );
  });

  test("a package before the backport lacks it, and the reason names the fixed package", () => {
    const host = { id: "debian", versionId: "12" };
    const fixes = missingRuncFixes(parsed(debian("1.1.5+ds1-1")), host);
    assert.deepEqual(fixes[0], {
      id: "CVE-2024-21626",
      severity: "high",
      reason: "first fixed in Debian 12 by 1.1.5+ds1-1+deb12u1",
    });
    assert.deepEqual(missing(debian("1.0.0~rc93+ds1-5+deb11u2")), ALL);
    assert.deepEqual(missing(debian("1.0.0~rc93+ds1-5+deb11u3")), ALL.slice(1));
  });

  test("fixed packages: Ubuntu's 1.3.3 builds have every fix, 22.04's 1.1.7 backport has CVE-2024-21626", () => {
    assert.deepEqual(missing(ubuntu("1.3.3-0ubuntu1~24.04.2")), []);
    assert.deepEqual(missing(ubuntu("1.3.3-0ubuntu1~22.04.2")), []);
    assert.deepEqual(missing(ubuntu("1.1.7-0ubuntu1~22.04.2")), ALL.slice(1));
    assert.deepEqual(missing(ubuntu("1.1.7-0ubuntu1~22.04.1")), ALL);
    assert.deepEqual(missing(ubuntu("1.2.5-0ubuntu1~22.04.1")), OF_2025);
  });

  test("a version that names no release is judged by the host's", () => {
    const noble = { id: "ubuntu", versionId: "24.04" };
    const fixes = missingRuncFixes(parsed(ubuntu("1.1.12-0ubuntu3.1")), noble);
    assert.deepEqual(
      fixes.map((fix) => [fix.id, fix.reason]),
      [
        ["CVE-2024-45310", "first fixed in Ubuntu 24.04 by 1.2.5-0ubuntu1~24.04.1"],
        ...OF_2025.map((id) => [id, "first fixed in Ubuntu 24.04 by 1.3.3-0ubuntu1~24.04.2"]),
      ],
    );
    const trixie = { id: "debian", versionId: "13" };
    assert.deepEqual(missing(debian("1.1.15+ds1-2+b4"), trixie), OF_2025);
    assert.match(
      missingRuncFixes(parsed(debian("1.1.15+ds1-2+b4")), trixie)[0]?.reason ?? "",
      /^no fixed release known for Debian 13$/,
    );
  });

  test("an unknown distribution or release says so and is judged by its upstream version", () => {
    const fedora = parsed(upstream("1.1.12", "1.1.12-1.fc39"));
    assert.equal(fedora.kind, "package");
    assert.match(
      describeRunc(fedora),
      /does not recognise; judged by its upstream version 1\.1\.12/,
    );
    assert.deepEqual(
      missingRuncFixes(fedora).map((fix) => fix.id),
      ["CVE-2024-45310", ...OF_2025],
    );
    const sid = parsed(debian("1.3.3+ds1-2"));
    assert.match(describeRunc(sid), /a Debian package of a release isol8 has no backport list for/);
    assert.deepEqual(missingRuncFixes(sid), [], "upstream 1.3.3 has every fix");
    const oldUbuntu = parsed(ubuntu("1.1.4-0ubuntu1~18.04.2+esm1"));
    assert.match(
      describeRunc(oldUbuntu),
      /an Ubuntu package of a release isol8 has no backport list/,
    );
    assert.deepEqual(
      missingRuncFixes(oldUbuntu).map((fix) => fix.id),
      ALL,
      "conservative: a backport it may have is not seen",
    );
  });
});

describe("dpkg version order", () => {
  const ascending = [
    "1.0~~",
    "1.0~~a",
    "1.0~",
    "1.0~rc1",
    "1.0",
    "1.0-1",
    "1.0-1+deb12u1",
    "1.0-1+deb12u2",
    "1.0-1+deb12u10",
    "1.0a",
    "1.0+ds1",
    "1.0.1",
    "1.9",
    "1.10",
    "1:0.1",
    "2:0.0.1",
  ];

  test("tilde sorts before everything, even the end; letters before other characters", () => {
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        const a = ascending[i] as string;
        const b = ascending[j] as string;
        assert.equal(Math.sign(compareDebianVersions(a, b)), Math.sign(i - j), `${a} vs ${b}`);
      }
    }
  });

  test("epochs win over everything after them; equal spellings compare equal", () => {
    assert.ok(compareDebianVersions("1:1.1.5+ds1-1", "9.9") > 0);
    assert.ok(compareDebianVersions("0:1.1", "1.1") === 0, "epoch 0 is no epoch");
    assert.ok(compareDebianVersions("1.01", "1.1") === 0, "numbers, not digits");
    assert.ok(compareDebianVersions("1.0", "1.0-0") === 0, "no revision is revision 0");
    assert.ok(compareDebianVersions("1.1.5+ds1-1+deb12u1", "1.1.5+ds1-1") > 0);
    assert.ok(compareDebianVersions("1.3.3-0ubuntu1~24.04.2", "1.3.3-0ubuntu1") < 0);
    assert.ok(compareDebianVersions("1.1.12+ds1-5~bpo12+1", "1.1.5+ds1-1+deb12u1") > 0);
  });

  test("garbage compares without throwing", () => {
    for (const [a, b] of [
      ["", ""],
      ["::", "-"],
      ["a:b", "1"],
      ["\u00ff", "~"],
    ])
      assert.equal(typeof compareDebianVersions(a as string, b as string), "number");
  });
});
