// The conformance cases every OCI runtime must pass (test/support/conformance.ts), under gVisor's runsc.
import { before } from "node:test";
import { conformance, RUNSC } from "../support/conformance.js";
import { requireRunsc } from "../support/gvisor.js";

before(requireRunsc);
conformance(RUNSC);
