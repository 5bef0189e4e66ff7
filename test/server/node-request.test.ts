// The server reads headers, bodies and hang-ups from Node's own request
// objects (src/server/node-request.ts): over a real socket each must read
// as the Fetch API's Request would have, since that is what the app saw
// before and what `app.request()` still sees.
import assert from "node:assert/strict";
import { type IncomingMessage, request } from "node:http";
import { describe, test } from "node:test";
import { MASTER, startServer } from "../support/server.js";

const srv = await startServer({ maxBodyBytes: 64 * 1024 });
const { hostname, port } = new URL(srv.url);

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** One request over a fresh connection, its headers as given (an array sends a field twice), its body in `chunks`. */
function send(
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
  chunks: (string | Buffer)[] = [],
  pauseMs = 0,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    void (async () => {
      for (const chunk of chunks) {
        req.write(chunk);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
      req.end();
    })();
  });
}

const json = { "Content-Type": "application/json" };
const auth = { Authorization: `Bearer ${MASTER}` };
/** A body the schema refuses after parsing it: a 400 naming `code` shows it was read as JSON. */
const noCode = JSON.stringify({ request: { runtime: "python" } });
const lengthOf = (...parts: (string | Buffer)[]) =>
  String(parts.reduce((n, p) => n + Buffer.byteLength(p), 0));

describe("headers from Node's request", () => {
  test("two Authorization fields are read joined, as the Fetch API reads them: no key", async () => {
    const answer = await send("GET", "/openapi.json", {
      Authorization: [`Bearer ${MASTER}`, `Bearer ${MASTER}`],
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.headers["www-authenticate"], 'Bearer realm="isol8"');
  });

  test("the key is read whatever the field's case", async () => {
    const answer = await send("GET", "/openapi.json", { aUtHoRiZaTiOn: `Bearer ${MASTER}` });
    assert.equal(answer.status, 200);
  });

  test("a sane X-Request-Id is echoed; another is replaced by a UUID", async () => {
    const given = await send("GET", "/openapi.json", { ...auth, "X-Request-Id": "req-42=" });
    assert.equal(given.headers["x-request-id"], "req-42=");
    const bad = await send("GET", "/openapi.json", {
      ...auth,
      "X-Request-Id": "no spaces allowed",
    });
    assert.match(String(bad.headers["x-request-id"]), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
    const none = await send("GET", "/openapi.json", auth);
    assert.match(String(none.headers["x-request-id"]), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});

describe("bodies from Node's request", () => {
  test("a body sent in pieces with a Content-Length is read whole", async () => {
    const half = noCode.length >> 1;
    const parts = [noCode.slice(0, half), noCode.slice(half)];
    const answer = await send(
      "POST",
      "/execute",
      { ...auth, ...json, "Content-Length": lengthOf(...parts) },
      parts,
      50,
    );
    assert.equal(answer.status, 400);
    assert.match(JSON.parse(answer.body).error, /give exactly one of code, codeUrl and cmd/);
  });

  test("a leading byte order mark is dropped and UTF-8 split between pieces decodes", async () => {
    const body = Buffer.from(`\uFEFF${JSON.stringify({ request: { runtime: "python" }, é: 1 })}`);
    const at = body.indexOf(Buffer.from("é")) + 1; // inside the two bytes of é
    const parts = [body.subarray(0, at), body.subarray(at)];
    const answer = await send(
      "POST",
      "/execute",
      { ...auth, ...json, "Content-Length": lengthOf(...parts) },
      parts,
      20,
    );
    assert.equal(answer.status, 400);
    // Parsed as JSON (not "not valid JSON"), with the é intact in the refused key.
    assert.match(JSON.parse(answer.body).error, /Unrecognized key: "é"/);
  });

  test("a Content-Length over the limit is 413 before the body is read", async () => {
    const answer = await send("POST", "/execute", {
      ...auth,
      ...json,
      "Content-Length": String(64 * 1024 + 1),
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.headers.connection, "close");
  });

  test("a client that hangs up in the middle of its body leaves the server serving", async () => {
    await new Promise<void>((resolve) => {
      const req = request({
        hostname,
        port,
        method: "POST",
        path: "/execute",
        headers: { ...auth, ...json, "Content-Length": "1000" },
        agent: false,
      });
      req.on("error", () => resolve());
      req.write('{"request":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    const after = await send("POST", "/execute", { ...auth, ...json }, [noCode]);
    assert.equal(after.status, 400);
  });
});
