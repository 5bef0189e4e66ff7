// Long-lived sandboxes' file cases (test/support/sandbox-file-cases.ts) under gVisor's runsc.
import { before } from "node:test";
import { RUNSC } from "../support/conformance.js";
import { requireRunsc } from "../support/gvisor.js";
import { sandboxFileCases } from "../support/sandbox-file-cases.js";

before(requireRunsc);
sandboxFileCases(RUNSC);
