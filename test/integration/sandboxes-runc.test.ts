// Long-lived sandboxes' cases (test/support/sandbox-cases.ts) under runc, Docker's default runtime.
import { RUNC } from "../support/conformance.js";
import { sandboxCases } from "../support/sandbox-cases.js";

sandboxCases(RUNC);
