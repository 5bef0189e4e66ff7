import { posix } from "node:path";
import { runtimeImage } from "../images/names.js";
import { PROXY_ENV } from "../network/gateway.js";
import { type EgressPolicy, widenPolicy } from "../network/policy.js";
import { RUNTIMES, runtimeAdapter } from "../runtimes/index.js";
import { BASE_ENV, SANDBOX_DIR, SYSTEM_CA_BUNDLE } from "../sandbox-layout.js";
import type { ExecutionRequest, Runtime } from "../types.js";
import { type InstallPlan, installPlan } from "./installs.js";
import type { ResolvedOptions } from "./options.js";
import { mayUsePrestart, prestartSpec } from "./prestart.js";
import type { PrestartSpec, RunSpec } from "./protocol.js";
import { workdirPath } from "./request.js";

/**
 * The run planner: what one execution will send to a sandbox's supervisor,
 * decided from the request and the engine's options alone (no Docker, no
 * sandbox; unit-tested in test/unit/run-plan.test.ts). The engine then
 * carries the plan out (`run-steps.ts`) in a container its source gives it.
 */

/** Where a step's output goes: the program's, an install's or a setup script's; `hidden`: isol8's own, never shown. */
export type Phase = "install" | "setup" | "code";

/** Something run before the program in the same sandbox; its failure stops the run. */
export interface PrepStep {
  phase: Exclude<Phase, "code"> | "hidden";
  spec: RunSpec;
  /** The gateway policy while it runs (filtered network); absent: the engine's own. */
  policy?: EgressPolicy;
}

/** One execution, planned. */
export interface RunPlan {
  /** The image whose container runs it. */
  image: string;
  /** Run in order before the program, sharing its timeout. */
  steps: PrepStep[];
  /** The program's own run. */
  program: RunSpec;
}

/** The options the planner reads. */
type PlannerOptions = Pick<
  ResolvedOptions,
  | "image"
  | "network"
  | "caCertificates"
  | "registries"
  | "secrets"
  | "timeoutMs"
  | "maxOutputBytes"
  | "egressPolicy"
>;

/** Where extra CA certificates go in a sandbox, and the bundle made from them. */
const EXTRA_CA_FILE = `${SANDBOX_DIR}/.isol8/extra-ca.pem`;
const CA_BUNDLE_FILE = `${SANDBOX_DIR}/.isol8/ca-bundle.pem`;
/** The variables the runtimes and their tools read a CA bundle from. */
const CA_BUNDLE_VARIABLES = [
  "SSL_CERT_FILE",
  "REQUESTS_CA_BUNDLE",
  "PIP_CERT",
  "CURL_CA_BUNDLE",
  "NPM_CONFIG_CAFILE",
  "NODE_EXTRA_CA_CERTS",
  "DENO_CERT",
];

export class RunPlanner {
  /** What every run of this engine gets in its environment: proxy and trust-store variables. */
  private readonly engineEnv: Record<string, string>;
  /**
   * The environment a prestarted interpreter starts with: the engine's,
   * unless extra CAs are given (their bundle is written by each run's first
   * step, after the interpreter started).
   */
  private readonly prestartEnv: Record<string, string>;

  constructor(private readonly options: PlannerOptions) {
    this.engineEnv = networkEnv(options, this.withCaCertificates);
    this.prestartEnv = this.withCaCertificates ? {} : this.engineEnv;
  }

  /** The image a runtime's runs use: the engine's custom image, or the runtime's own. */
  imageFor(runtime: Runtime): string {
    return this.options.image ?? runtimeImage(runtime);
  }

  /** Plans one execution of an already validated request. */
  plan(request: ExecutionRequest): RunPlan {
    const install = request.installPackages?.length
      ? installPlan(request.runtime, request.installPackages, this.options.registries)
      : undefined;
    const program = this.programSpec(request, install);
    return {
      image: this.imageFor(request.runtime),
      steps: this.prepSteps(request, program, install),
      program,
    };
  }

  /** The environment a long-lived sandbox's processes start from: the engine's and its secrets. */
  sandboxEnv(runtime: Runtime): Record<string, string> {
    return this.programSpec({ runtime, code: " " }).env;
  }

  /** The run that starts a code context's kernel takes this spec's environment, limits and workdir. */
  kernelSpec(runtime: Runtime): RunSpec {
    return this.programSpec({ runtime, code: " " });
  }

  /** What a context's sandbox runs before its kernel starts: the CA bundle, when there are extra CAs. */
  contextPreparation(runtime: Runtime): RunSpec | undefined {
    if (!this.withCaCertificates) return undefined;
    const { argv: _, files: __, ...common } = this.kernelSpec(runtime);
    return { ...this.caBundleSpec(common), prestarted: false };
  }

  /**
   * The interpreter a new container of `image` keeps started for its next
   * run: only isol8's own runtime images hold the bootstraps.
   */
  prestartFor(image: string): PrestartSpec | undefined {
    if (this.options.image) return undefined;
    const runtime = RUNTIMES.find((r) => runtimeImage(r) === image);
    return runtime && prestartSpec(runtimeAdapter(runtime), this.prestartEnv);
  }

  /** Extra CA certificates matter only to a sandbox that can reach a network. */
  private get withCaCertificates(): boolean {
    return this.options.caCertificates.length > 0 && this.options.network !== "none";
  }

  /** The program's run; `install` is the plan of the packages installed before it, if any. */
  private programSpec(request: ExecutionRequest, install?: InstallPlan): RunSpec {
    const adapter = runtimeAdapter(request.runtime);
    const env = {
      ...BASE_ENV,
      ...adapter.env,
      ...this.engineEnv,
      ...install?.programEnv,
      ...request.env,
      ...this.options.secrets,
    };
    const common = {
      env,
      workdir: request.workdir === undefined ? SANDBOX_DIR : workdirPath(request.workdir),
      timeoutMs: request.timeoutMs ?? this.options.timeoutMs,
      outputLimit: this.options.maxOutputBytes,
    };
    // The request's own files first, so the program's file wins a clash of paths.
    const files: RunSpec["files"] = [
      ...Object.entries(request.files ?? {}).map(([path, content]) => ({
        path: posix.normalize(path),
        content,
      })),
      ...Object.entries(request.filesBase64 ?? {}).map(([path, content]) => ({
        path: posix.normalize(path),
        content: Buffer.from(content, "base64"),
      })),
    ];
    if (request.cmd !== undefined && request.cmd.trim() !== "") {
      return { ...common, argv: ["bash", "-c", request.cmd], files };
    }
    const path = `${SANDBOX_DIR}/main${request.fileExtension ?? adapter.defaultExtension}`;
    return {
      ...common,
      argv: adapter.command(path),
      files: [...files, { path, content: request.code ?? "" }],
      prestarted: !this.options.image && mayUsePrestart(adapter, env, this.prestartEnv),
    };
  }

  /** What runs before the program: the CA bundle, package installs, the setup script. */
  private prepSteps(
    request: ExecutionRequest,
    program: RunSpec,
    install: InstallPlan | undefined,
  ): PrepStep[] {
    const steps: PrepStep[] = [];
    // Installs and isol8's own steps work in /sandbox; the setup script starts where the program does.
    const common = {
      env: program.env,
      workdir: SANDBOX_DIR,
      timeoutMs: program.timeoutMs,
      outputLimit: program.outputLimit,
      prestarted: false,
    };
    if (this.withCaCertificates) steps.push({ phase: "hidden", spec: this.caBundleSpec(common) });
    if (install) {
      steps.push({
        phase: "install",
        spec: { ...common, env: installEnv(program.env, install), argv: install.argv, files: [] },
        policy:
          this.options.egressPolicy &&
          widenPolicy(this.options.egressPolicy, install.registryRules),
      });
    }
    if (request.setupScript !== undefined) {
      steps.push({
        phase: "setup",
        spec: {
          ...common,
          workdir: program.workdir,
          argv: ["bash", "-c", request.setupScript],
          files: [],
        },
      });
    }
    return steps;
  }

  /** The run that writes the CA bundle the trust variables point at (image store + extra CAs). */
  private caBundleSpec(common: Omit<RunSpec, "argv" | "files">): RunSpec {
    return {
      ...common,
      argv: ["sh", "-c", `cat ${SYSTEM_CA_BUNDLE} ${EXTRA_CA_FILE} > ${CA_BUNDLE_FILE}`],
      files: [{ path: EXTRA_CA_FILE, content: `${this.options.caCertificates.join("\n")}\n` }],
    };
  }
}

/**
 * The proxy and trust-store variables of a sandbox with network access.
 * Node.js and Deno carry their own CA lists and ignore the image's store
 * (which holds the CAs `isol8 setup` was given) unless told to read it.
 */
function networkEnv(
  options: Pick<PlannerOptions, "network">,
  withCaCertificates: boolean,
): Record<string, string> {
  if (options.network === "none") return {};
  const env: Record<string, string> = options.network === "filtered" ? { ...PROXY_ENV } : {};
  env.NODE_EXTRA_CA_CERTS = SYSTEM_CA_BUNDLE;
  env.DENO_TLS_CA_STORE = "system";
  if (withCaCertificates) for (const name of CA_BUNDLE_VARIABLES) env[name] = CA_BUNDLE_FILE;
  return env;
}

/**
 * The installer's environment: the run's, without what points the program
 * at the installed packages (what an earlier run left in /sandbox must not
 * become part of the installer), plus the installer's own settings.
 */
function installEnv(runEnv: Record<string, string>, plan: InstallPlan): Record<string, string> {
  const env = { ...runEnv, ...plan.env };
  for (const name of Object.keys(plan.programEnv)) if (!(name in plan.env)) delete env[name];
  return env;
}
