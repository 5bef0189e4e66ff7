// The Isol8Engine behaviours (test/support/engine-parity.ts) on a local DockerIsol8.
import { engine } from "../support/engine.js";
import { engineParity } from "../support/engine-parity.js";

engineParity({
  name: "DockerIsol8",
  make: ({ session } = {}) => engine(session ? { mode: "persistent" } : {}),
});
