// Long-lived sandboxes' cases (test/support/sandbox-cases.ts) under gVisor's runsc.
import { before } from "node:test";
import { RUNSC } from "../support/conformance.js";
import { requireRunsc } from "../support/gvisor.js";
import { sandboxCases } from "../support/sandbox-cases.js";

before(requireRunsc);
sandboxCases(RUNSC);
