/**
 * What it means for a project-local `isol8.config.json` to widen what isol8
 * allows. The comparison is against the trusted level below it: the user's
 * own configuration file where it sets the key, else the built-in default.
 * Each key of the schema has exactly one rule (a unit test checks that).
 */
import { DEFAULTS } from "../engine/options.js";
import { REMOTE_CODE_DEFAULTS } from "../remote-code/config.js";
import { NETWORK_MODES } from "../types.js";
import type { Isol8Config } from "./file.js";
import { parseSize } from "./sizes.js";

/** One key a layer widens, and the value it would replace. */
export interface Widening {
  /** The key path, e.g. `defaults.network`. */
  key: string;
  value: unknown;
  /** What the trusted level allows (its own value or the built-in default). */
  allowed: unknown;
}

/** Whether `value` allows more than `allowed`; `trusted` is the whole trusted configuration, for rules that depend on another key. */
type Rule = (allowed: unknown, value: unknown, trusted: Isol8Config) => boolean;

const rank =
  (order: readonly string[]): Rule =>
  (allowed, value) =>
    order.indexOf(String(value)) > order.indexOf(String(allowed));
const greater: Rule = (allowed, value) => Number(value) > Number(allowed);
const biggerSize: Rule = (allowed, value) =>
  (parseSize(String(value)) ?? 0) > (parseSize(String(allowed)) ?? 0);
const differs: Rule = (allowed, value) => JSON.stringify(value) !== JSON.stringify(allowed);
/** Turns off a protection the trusted level has on. */
const turnsOff: Rule = (allowed, value) => allowed === true && value === false;
const turnsOn: Rule = (allowed, value) => allowed !== true && value === true;
/** A list that grants: an entry the trusted level does not have widens. */
const addsEntry: Rule = (allowed, value) => {
  const have = new Set((allowed as unknown[] | undefined) ?? []);
  return ((value as unknown[] | undefined) ?? []).some((entry) => !have.has(entry));
};
/** A list that refuses: dropping one of the trusted level's entries widens. */
const dropsEntry: Rule = (allowed, value) => {
  const keep = new Set((value as unknown[] | undefined) ?? []);
  return ((allowed as unknown[] | undefined) ?? []).some((entry) => !keep.has(entry));
};

/** Per key: the built-in default and the rule. Lists default to empty, optional strings to undefined. */
const RULES: Record<string, { fallback: unknown; widens: Rule }> = {
  $schema: { fallback: undefined, widens: () => false },
  "defaults.network": { fallback: DEFAULTS.network, widens: rank(NETWORK_MODES) },
  "defaults.memoryLimit": { fallback: DEFAULTS.memoryLimit, widens: biggerSize },
  "defaults.cpuLimit": { fallback: DEFAULTS.cpuLimit, widens: greater },
  "defaults.timeoutMs": { fallback: DEFAULTS.timeoutMs, widens: greater },
  "defaults.pidsLimit": { fallback: DEFAULTS.pidsLimit, widens: greater },
  "defaults.sandboxSize": { fallback: DEFAULTS.sandboxSize, widens: biggerSize },
  "defaults.tmpSize": { fallback: DEFAULTS.tmpSize, widens: biggerSize },
  "defaults.readonlyRootFs": { fallback: DEFAULTS.readonlyRootFs, widens: turnsOff },
  "defaults.maxOutputSize": { fallback: DEFAULTS.maxOutputSize, widens: greater },
  // Another OCI runtime is another isolation: any change, even to one believed stronger.
  "defaults.ociRuntime": { fallback: undefined, widens: differs },
  "network.whitelist": { fallback: [], widens: addsEntry },
  "network.blacklist": { fallback: [], widens: dropsEntry },
  "network.ports": { fallback: [80, 443], widens: addsEntry },
  // A CA file is read from the host and trusted inside the sandbox.
  "network.caCertificates": { fallback: [], widens: addsEntry },
  "security.seccomp": { fallback: "strict", widens: rank(["strict", "custom", "unconfined"]) },
  // Another profile is another filter, unless the trusted level has none at all.
  "security.customProfilePath": {
    fallback: undefined,
    widens: (allowed, value, trusted) =>
      trusted.security?.seccomp !== "unconfined" && differs(allowed, value, trusted),
  },
  "security.compatAbis": { fallback: false, widens: turnsOn },
  // What images are built with: package code runs while an image is built.
  "dependencies.python": { fallback: [], widens: addsEntry },
  "dependencies.node": { fallback: [], widens: addsEntry },
  "dependencies.bun": { fallback: [], widens: addsEntry },
  "dependencies.deno": { fallback: [], widens: addsEntry },
  "dependencies.bash": { fallback: [], widens: addsEntry },
  // Where packages come from, and a host the sandbox may then reach.
  "registries.pip": { fallback: undefined, widens: differs },
  "registries.npm": { fallback: undefined, widens: differs },
  "remoteCode.enabled": { fallback: REMOTE_CODE_DEFAULTS.enabled, widens: turnsOn },
  "remoteCode.allowedSchemes": {
    fallback: REMOTE_CODE_DEFAULTS.allowedSchemes,
    widens: addsEntry,
  },
  // Unset means any host: a list then only narrows.
  "remoteCode.allowedHosts": {
    fallback: undefined,
    widens: (allowed, value, trusted) =>
      allowed !== undefined && addsEntry(allowed, value, trusted),
  },
  "remoteCode.blockedHosts": { fallback: [], widens: dropsEntry },
  "remoteCode.maxCodeSize": { fallback: REMOTE_CODE_DEFAULTS.maxCodeSize, widens: greater },
  "remoteCode.fetchTimeoutMs": { fallback: REMOTE_CODE_DEFAULTS.fetchTimeoutMs, widens: greater },
  "remoteCode.requireHash": { fallback: REMOTE_CODE_DEFAULTS.requireHash, widens: turnsOff },
  "remoteCode.caCertificates": { fallback: [], widens: addsEntry },
};

/** Every key path that has a rule, for the test that compares them with the schema. */
export const RULED_KEYS: readonly string[] = Object.keys(RULES);

/** The leaf values a configuration sets, by key path. */
function leaves(config: Isol8Config): [string, unknown][] {
  return Object.entries(config).flatMap(([section, value]) =>
    section === "$schema" || value === undefined
      ? []
      : Object.entries(value as Record<string, unknown>)
          .filter(([, leaf]) => leaf !== undefined)
          .map(([key, leaf]): [string, unknown] => [`${section}.${key}`, leaf]),
  );
}

function valueAt(config: Isol8Config, key: string): unknown {
  const [section, leaf] = key.split(".") as [string, string];
  return (config as Record<string, Record<string, unknown> | undefined>)[section]?.[leaf];
}

/** The keys of `layer` that allow more than `trusted` (the user's configuration, `{}` for none) does. */
export function wideningKeys(trusted: Isol8Config, layer: Isol8Config): Widening[] {
  const found: Widening[] = [];
  for (const [key, value] of leaves(layer)) {
    const rule = RULES[key];
    // A key without a rule cannot be judged: treat it as widening rather than let it through.
    const allowed = valueAt(trusted, key) ?? rule?.fallback;
    if (!rule || rule.widens(allowed, value, trusted)) found.push({ key, value, allowed });
  }
  return found;
}

/** `defaults.network "host" (allowed: "none")`, for messages. */
export function describeWidening(widening: Widening): string {
  const allowed = widening.allowed === undefined ? "unset" : JSON.stringify(widening.allowed);
  return `${widening.key} ${JSON.stringify(widening.value)} (allowed: ${allowed})`;
}
