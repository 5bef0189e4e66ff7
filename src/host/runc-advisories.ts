/**
 * Which fixes for runc's container-breakout vulnerabilities a host's runc
 * lacks, judged from what `runc --version` prints. Pure: the caller runs runc
 * and reads `/etc/os-release`.
 *
 * Distributions backport fixes without changing the upstream version (Debian
 * 12's runc says "1.1.5+ds1" but carries the CVE-2024-21626 fix), so a
 * distribution's package is compared, in dpkg's version order, against the
 * first package of that release known to carry each fix. A package whose
 * upstream version is already at or past the upstream fix has it whatever
 * its distribution.
 */

/** A runc vulnerability that can end in a container breakout. */
interface RuncAdvisory {
  id: string;
  severity: "high" | "low";
  /**
   * The releases that fixed it upstream, at most one per release line
   * (major.minor), ascending. A line newer than every listed one started with
   * the fix; an older line, or one between listed lines, never got it.
   */
  upstreamFixed: readonly string[];
  /** The first upstream version it affects, when it does not affect all. */
  affectedFrom?: string;
}

/*
 * Sources: the CVE records (CVEProject cvelistV5) and runc's advisories
 * GHSA-xr7r-f8xq-vfvv, GHSA-jfvp-7x6p-h2pv, GHSA-9493-h29p-rfm2,
 * GHSA-qw9x-cqr3-wc7r and GHSA-cgrx-mc8f-2prm; the 1.0 and 1.1 release lines
 * got no fix for the ones after their end.
 */
const RUNC_ADVISORIES: readonly RuncAdvisory[] = [
  {
    id: "CVE-2024-21626",
    severity: "high",
    upstreamFixed: ["1.1.12"],
    affectedFrom: "1.0.0-rc93",
  },
  { id: "CVE-2024-45310", severity: "low", upstreamFixed: ["1.1.14", "1.2.0-rc.3"] },
  { id: "CVE-2025-31133", severity: "high", upstreamFixed: ["1.2.8", "1.3.3", "1.4.0-rc.3"] },
  {
    id: "CVE-2025-52565",
    severity: "high",
    upstreamFixed: ["1.2.8", "1.3.3", "1.4.0-rc.3"],
    affectedFrom: "1.0.0-rc3",
  },
  { id: "CVE-2025-52881", severity: "high", upstreamFixed: ["1.2.8", "1.3.3", "1.4.0-rc.3"] },
];

/** A distribution release isol8 knows runc backports for. */
interface DistributionRelease {
  /** `/etc/os-release`'s ID and VERSION_ID. */
  id: "debian" | "ubuntu";
  version: string;
  name: string;
  /**
   * Per CVE, the first package of this release carrying the fix where that
   * package's upstream version alone would not say so (a backport) or where
   * the distribution published it. No entry: no such package is known.
   */
  fixedIn: Readonly<Record<string, string>>;
}

/*
 * Sources: DSA-5615-1 (Debian 11 and 12, CVE-2024-21626); the bookworm and
 * bookworm-security package lists of December 2026 still carry
 * 1.1.5+ds1-1+deb12u1, and no later bullseye or trixie package is known to
 * carry the 2024-45310 or 2025 fixes; trixie ships upstream 1.1.15. USN-6619-1
 * (Ubuntu 20.04 and 22.04, CVE-2024-21626); USN-7851-1 (Ubuntu 22.04 and
 * 24.04, the three 2025 CVEs, runc 1.3.3); for CVE-2024-45310 Ubuntu lists no
 * backport to 1.1.x, so its first fixed packages are the first on upstream
 * 1.2.5, which has the fix.
 */
const DISTRIBUTION_RELEASES: readonly DistributionRelease[] = [
  {
    id: "debian",
    version: "11",
    name: "Debian 11",
    fixedIn: { "CVE-2024-21626": "1.0.0~rc93+ds1-5+deb11u3" },
  },
  {
    id: "debian",
    version: "12",
    name: "Debian 12",
    fixedIn: { "CVE-2024-21626": "1.1.5+ds1-1+deb12u1" },
  },
  { id: "debian", version: "13", name: "Debian 13", fixedIn: {} },
  {
    id: "ubuntu",
    version: "20.04",
    name: "Ubuntu 20.04",
    fixedIn: { "CVE-2024-21626": "1.1.7-0ubuntu1~20.04.2" },
  },
  {
    id: "ubuntu",
    version: "22.04",
    name: "Ubuntu 22.04",
    fixedIn: {
      "CVE-2024-21626": "1.1.7-0ubuntu1~22.04.2",
      "CVE-2024-45310": "1.2.5-0ubuntu1~22.04.1",
      "CVE-2025-31133": "1.3.3-0ubuntu1~22.04.2",
      "CVE-2025-52565": "1.3.3-0ubuntu1~22.04.2",
      "CVE-2025-52881": "1.3.3-0ubuntu1~22.04.2",
    },
  },
  {
    id: "ubuntu",
    version: "24.04",
    name: "Ubuntu 24.04",
    fixedIn: {
      "CVE-2024-45310": "1.2.5-0ubuntu1~24.04.1",
      "CVE-2025-31133": "1.3.3-0ubuntu1~24.04.2",
      "CVE-2025-52565": "1.3.3-0ubuntu1~24.04.2",
      "CVE-2025-52881": "1.3.3-0ubuntu1~24.04.2",
    },
  },
];

/** An upstream runc version: `1.2.8`, `1.4.0-rc.3` (`rc` is the release candidate). */
interface UpstreamVersion {
  major: number;
  minor: number;
  patch: number;
  rc?: number;
}

/** What `runc --version` says the binary is. */
export type RuncVersion =
  | { kind: "upstream"; version: string; upstream: UpstreamVersion }
  | {
      kind: "package";
      /** The distribution package's version (Debian prints it as the commit). */
      version: string;
      /** The distribution its version's markers name; undefined when none does. */
      family: "debian" | "ubuntu" | undefined;
      /** The release its version names (`deb12u1`, `~24.04.2`), if it names one. */
      release: string | undefined;
      upstream: UpstreamVersion;
    };

/** The host's distribution, from `/etc/os-release`. */
export interface HostRelease {
  id: string;
  versionId: string | undefined;
}

/** A fix the runc lacks, and why isol8 thinks so. */
interface MissingFix {
  id: string;
  severity: RuncAdvisory["severity"];
  reason: string;
}

const UPSTREAM = /^v?(\d+)\.(\d+)\.(\d+)(?:[-~]rc\.?(\d+))?/;
const UPSTREAM_RELEASE = /^v?\d+\.\d+\.\d+(?:-rc\.?\d+)?(?:\+dev)?$/;
/** `git describe` output (`v1.1.12-0-g51d5e94`) or a bare commit hash. */
const GIT_COMMIT = /^(?:v?\d+\.\d+\.\d+(?:-rc\.?\d+)?-\d+-g[0-9a-f]+(?:-dirty)?|[0-9a-f]{7,40})$/;

/** Parses an upstream version's leading `major.minor.patch[-rc.N]`; undefined if it has none. */
function parseUpstreamVersion(text: string): UpstreamVersion | undefined {
  const match = UPSTREAM.exec(text);
  if (!match) return undefined;
  const [, major, minor, patch, rc] = match;
  return {
    major: Number(major),
    minor: Number(minor),
    patch: Number(patch),
    ...(rc === undefined ? {} : { rc: Number(rc) }),
  };
}

/** Orders upstream versions; a release candidate comes before its release. */
function compareUpstreamVersions(a: UpstreamVersion, b: UpstreamVersion): number {
  const rc = (v: UpstreamVersion) => v.rc ?? Number.MAX_SAFE_INTEGER;
  return Math.sign(a.major - b.major || a.minor - b.minor || a.patch - b.patch || rc(a) - rc(b));
}

function formatUpstream(v: UpstreamVersion): string {
  return `${v.major}.${v.minor}.${v.patch}${v.rc === undefined ? "" : `-rc.${v.rc}`}`;
}

/**
 * Reads `runc --version`'s output. Upstream builds print their release and a
 * git commit; Debian prints the upstream part as the version and the whole
 * package version as the commit; Ubuntu prints the package version as the
 * version. Undefined when the text is not runc's version output.
 */
export function parseRuncVersion(text: string): RuncVersion | undefined {
  const version = /^runc version (\S+)/m.exec(text)?.[1];
  if (version === undefined) return undefined;
  const upstream = parseUpstreamVersion(version);
  if (!upstream) return undefined;
  const commit = /^commit: (\S+)/m.exec(text)?.[1];
  const packaged =
    commit?.startsWith(`${version}-`) && !GIT_COMMIT.test(commit)
      ? commit
      : UPSTREAM_RELEASE.test(version)
        ? undefined
        : version;
  if (packaged === undefined) return { kind: "upstream", version, upstream };
  return { kind: "package", version: packaged, ...distributionOf(packaged), upstream };
}

/** The distribution and release a package version's markers name. */
function distributionOf(
  version: string,
): Pick<Extract<RuncVersion, { kind: "package" }>, "family" | "release"> {
  if (/ubuntu/i.test(version)) {
    const release = /[~.](\d{2}\.\d{2})(?:\.\d+)*(?:\+\w+)?$/.exec(version)?.[1];
    return { family: "ubuntu", release };
  }
  const release = /[+~]deb(\d+)u\d+|~bpo(\d+)\+/.exec(version);
  if (release) return { family: "debian", release: release[1] ?? release[2] };
  if (/\+(?:ds|dfsg)\d*/.test(version)) return { family: "debian", release: undefined };
  return { family: undefined, release: undefined };
}

/** Reads `ID` and `VERSION_ID` from `/etc/os-release`'s text; undefined without an ID. */
export function parseOsRelease(text: string): HostRelease | undefined {
  const field = (name: string) =>
    new RegExp(`^${name}=(?:"([^"]*)"|'([^']*)'|(\\S*))\\s*$`, "m")
      .exec(text)
      ?.slice(1)
      .find((value) => value !== undefined);
  const id = field("ID");
  return id ? { id, versionId: field("VERSION_ID") || undefined } : undefined;
}

/** The release a package is judged against: named by its version, else the host's own. */
function releaseOf(version: RuncVersion, host?: HostRelease): DistributionRelease | undefined {
  if (version.kind !== "package" || version.family === undefined) return undefined;
  const number = version.release ?? (host?.id === version.family ? host.versionId : undefined);
  return DISTRIBUTION_RELEASES.find((r) => r.id === version.family && r.version === number);
}

/** One line saying what the runc is and how it was judged. */
export function describeRunc(version: RuncVersion, host?: HostRelease): string {
  if (version.kind === "upstream") return `runc ${version.version} (an upstream build)`;
  const release = releaseOf(version, host);
  if (release) return `runc ${version.version} (${release.name}'s package)`;
  const upstream = formatUpstream(version.upstream);
  const which =
    version.family === "debian"
      ? "a Debian package of a release isol8 has no backport list for"
      : version.family === "ubuntu"
        ? "an Ubuntu package of a release isol8 has no backport list for"
        : "a distribution package isol8 does not recognise";
  return `runc ${version.version} (${which}; judged by its upstream version ${upstream} alone, which cannot show a backport)`;
}

/** Whether an upstream version has a fix, and if not, a short reason. */
function upstreamVerdict(
  advisory: RuncAdvisory,
  v: UpstreamVersion,
): { fixed: true } | { fixed: false; reason: string } {
  const fixes = advisory.upstreamFixed.map((text) => parseUpstreamVersion(text) as UpstreamVersion);
  const sameLine = fixes.find((f) => f.major === v.major && f.minor === v.minor);
  if (sameLine) {
    return compareUpstreamVersions(v, sameLine) >= 0
      ? { fixed: true }
      : { fixed: false, reason: `first fixed upstream in ${formatUpstream(sameLine)}` };
  }
  const newest = fixes[fixes.length - 1] as UpstreamVersion;
  if (v.major > newest.major || (v.major === newest.major && v.minor > newest.minor))
    return { fixed: true };
  return {
    fixed: false,
    reason: `no fixed ${v.major}.${v.minor} release upstream (fixed in ${advisory.upstreamFixed.join(", ")})`,
  };
}

/**
 * The CVEs of {@link RUNC_ADVISORIES} whose fix this runc lacks, each with a
 * short reason. `host` names the distribution release a package version does
 * not name itself (Ubuntu's release pocket, Debian's point releases).
 */
export function missingRuncFixes(version: RuncVersion, host?: HostRelease): MissingFix[] {
  const release = releaseOf(version, host);
  const missing: MissingFix[] = [];
  for (const advisory of RUNC_ADVISORIES) {
    const from = advisory.affectedFrom && parseUpstreamVersion(advisory.affectedFrom);
    if (from && compareUpstreamVersions(version.upstream, from) < 0) continue;
    const upstream = upstreamVerdict(advisory, version.upstream);
    if (upstream.fixed) continue;
    let reason = upstream.reason;
    if (version.kind === "package" && release) {
      const fixedIn = release.fixedIn[advisory.id];
      if (fixedIn !== undefined && compareDebianVersions(version.version, fixedIn) >= 0) continue;
      reason =
        fixedIn === undefined
          ? `no fixed release known for ${release.name}`
          : `first fixed in ${release.name} by ${fixedIn}`;
    }
    missing.push({ id: advisory.id, severity: advisory.severity, reason });
  }
  return missing;
}

/**
 * Compares two Debian package versions the way dpkg does: the epoch
 * (`1:`) numerically, then the upstream part, then the revision (after the
 * last `-`), each by alternating runs of non-digits (letters before other
 * characters, `~` before everything, even the end) and numbers.
 * Negative, zero or positive, like a sort comparator.
 */
export function compareDebianVersions(a: string, b: string): number {
  const x = splitDebianVersion(a);
  const y = splitDebianVersion(b);
  return (
    Math.sign(x.epoch - y.epoch) ||
    compareVersionPart(x.upstream, y.upstream) ||
    compareVersionPart(x.revision, y.revision)
  );
}

function splitDebianVersion(version: string): {
  epoch: number;
  upstream: string;
  revision: string;
} {
  const epoch = /^(\d+):(.*)$/.exec(version);
  const rest = epoch?.[2] ?? version;
  const dash = rest.lastIndexOf("-");
  return {
    epoch: epoch ? Number(epoch[1]) : 0,
    upstream: dash < 0 ? rest : rest.slice(0, dash),
    revision: dash < 0 ? "" : rest.slice(dash + 1),
  };
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

/** dpkg's weight of one character of a non-digit run; the end of the string weighs 0. */
function weight(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (c === "~") return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function compareVersionPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const diff = weight(a[i]) - weight(b[j]);
      if (diff !== 0) return Math.sign(diff);
      i++;
      j++;
    }
    const startA = i;
    const startB = j;
    while (isDigit(a[i])) i++;
    while (isDigit(b[j])) j++;
    const numberA = a.slice(startA, i).replace(/^0+/, "");
    const numberB = b.slice(startB, j).replace(/^0+/, "");
    if (numberA.length !== numberB.length) return Math.sign(numberA.length - numberB.length);
    if (numberA !== numberB) return numberA < numberB ? -1 : 1;
  }
  return 0;
}
