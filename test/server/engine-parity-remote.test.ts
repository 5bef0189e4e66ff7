// The Isol8Engine behaviours (test/support/engine-parity.ts) on a RemoteIsol8
// talking to a real isol8 server in this process, over loopback.
import { randomUUID } from "node:crypto";
import { after } from "node:test";
import type { RemoteIsol8 } from "../../src/client/remote-isol8.js";
import { engineParity } from "../support/engine-parity.js";
import { startServer } from "../support/server.js";

const srv = await startServer();

const clients: RemoteIsol8[] = [];
after(async () => {
  // The server ends its sessions when it closes too; whichever comes first.
  await Promise.all(clients.map((client) => client.stop().catch(() => undefined)));
});

// Streams over WebSocket (the default) and over SSE, which ends an aborted run its own way.
for (const transport of ["websocket", "sse"] as const) {
  engineParity({
    name: `RemoteIsol8 over ${transport}`,
    make: ({ session } = {}) => {
      const client = srv.remote(undefined, {
        transport,
        ...(session ? { sessionId: `parity-${randomUUID()}` } : {}),
      });
      clients.push(client);
      return client;
    },
  });
}
