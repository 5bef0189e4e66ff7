// Long-lived sandboxes' file cases (test/support/sandbox-file-cases.ts) under runc, Docker's default runtime.
import { RUNC } from "../support/conformance.js";
import { sandboxFileCases } from "../support/sandbox-file-cases.js";

sandboxFileCases(RUNC);
