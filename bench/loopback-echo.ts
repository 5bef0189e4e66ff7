/**
 * The transport alone, for bench/server-load.ts: a process that answers
 * every POST /execute with a stored result and every WebSocket on
 * /execute/ws with stored events (then close 1000) as soon as the request or
 * first message is in, running nothing. What a client pays to reach this is
 * what any server on loopback costs it before doing any work. Prints its
 * URL, then serves until killed.
 *
 *   ECHO_RESULT=<result JSON> ECHO_EVENTS=<events JSON array> node --import tsx bench/loopback-echo.ts
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

const result = process.env.ECHO_RESULT ?? "{}";
const events = JSON.parse(process.env.ECHO_EVENTS ?? "[]") as unknown[];

const server = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(result),
    });
    response.end(result);
  });
});
const wss = new WebSocketServer({ server, path: "/execute/ws" });
wss.on("connection", (ws) => {
  ws.once("message", () => {
    for (const event of events) ws.send(JSON.stringify(event));
    ws.close(1000);
  });
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
