// The conformance cases every OCI runtime must pass (test/support/conformance.ts), under runc.
import { conformance, RUNC } from "../support/conformance.js";

conformance(RUNC);
