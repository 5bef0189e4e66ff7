// The egress forwarder of a filtered sandbox (see egress-forwarder.c): with the
// proxy's unix socket mounted at /run/isol8/egress.sock, 127.0.0.1:3128 in
// the sandbox relays to it, byte for byte, out of the sandboxed code's reach.
// A unix-socket server on this machine stands in for the engine's proxy.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { containerSpec } from "../../src/backend/docker/container-spec.js";
import { DockerBackend } from "../../src/backend/docker/docker-backend.js";
import { createDebugLog } from "../../src/engine/debug-log.js";
import { resolveOptions } from "../../src/engine/options.js";
import type { ExitReport } from "../../src/engine/protocol.js";
import { SandboxContainer } from "../../src/engine/sandbox-container.js";

const docker = createDockerClient();
const log = createDebugLog(false);

/** A temporary folder (0755, so the forwarder's uid 101 can enter it), removed when the test ends. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "isol8-egress-"));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Proxy {
  dir: string;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** A unix-socket server at `<dir>/egress.sock` handling each connection with `onConnection`. */
async function fakeProxy(
  t: TestContext,
  onConnection: (socket: net.Socket) => void,
): Promise<Proxy> {
  const dir = tempDir(t);
  const path = join(dir, "egress.sock");
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, resolve);
  });
  chmodSync(path, 0o777);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await done;
  };
  t.after(close);
  return { dir, close };
}

/** Echoes everything back, and ends when the client does. */
function echo(socket: net.Socket): void {
  socket.pipe(socket);
}

/** A started sandbox from the stock spec (network none), with `egressDir` mounted at /run/isol8. */
async function sandbox(t: TestContext, egressDir?: string): Promise<SandboxContainer> {
  const hardening = resolveOptions({});
  const image = "isol8:python";
  assert.equal(containerSpec(hardening, image).HostConfig?.NetworkMode, "none");
  const box = await SandboxContainer.create(
    new DockerBackend(docker),
    {
      image,
      hardening,
      labels: {},
      keep: false,
      ...(egressDir !== undefined ? { egressDirectory: egressDir } : {}),
    },
    log,
  );
  t.after(() => box.remove());
  return box;
}

/** Runs a Python program as the sandbox user; returns its stdout, failing on a non-zero exit. */
async function python(box: SandboxContainer, code: string, timeoutMs = 30_000): Promise<string> {
  let stdout = "";
  let stderr = "";
  const report: ExitReport = await box.run(
    {
      argv: ["python3", "/sandbox/main.py"],
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/sandbox", LANG: "C.UTF-8" },
      workdir: "/sandbox",
      files: [{ path: "/sandbox/main.py", content: code }],
      timeoutMs,
      outputLimit: 1024 * 1024,
    },
    {
      stdout: (chunk) => {
        stdout += chunk.toString();
      },
      stderr: (chunk) => {
        stderr += chunk.toString();
      },
    },
  );
  assert.equal(report.timedOut, false, `the program timed out; stderr: ${stderr}`);
  assert.equal(report.exitCode, 0, `the program failed: ${stderr}`);
  return stdout;
}

/** Python: `connect()` to the forwarder, and `read_all(sock)` until end-of-file. */
const PRELUDE = String.raw`
import hashlib, json, os, signal, socket, sys, threading, time
def connect(timeout=10):
    return socket.create_connection(("127.0.0.1", 3128), timeout=timeout)
def read_all(sock):
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
`;

/** Python: one echo round trip through the forwarder; prints "echo ok". */
const ECHO_ONCE = String.raw`${PRELUDE}
s = connect()
s.sendall(b"ping")
s.shutdown(socket.SHUT_WR)
assert read_all(s) == b"ping"
print("echo ok")
`;

/** Python: prints "refused" if nothing listens on 127.0.0.1:3128. */
const CONNECT_REFUSED = String.raw`${PRELUDE}
try:
    connect(5)
    print("connected")
except ConnectionRefusedError:
    print("refused")
`;

/** Python: every process of uid 101, from /proc/<pid>/status and stat, as JSON. */
const FORWARDERS = String.raw`${PRELUDE}
found = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        status = open(f"/proc/{pid}/status").read()
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    if fields["Uid"].split()[0] != "101":
        continue
    after_name = stat.rsplit(")", 1)[1].split()
    found.append({"pid": int(pid), "status": fields, "pgrp": int(after_name[2]), "session": int(after_name[3])})
print(json.dumps(found))
`;

interface ProcInfo {
  pid: number;
  status: Record<string, string>;
  pgrp: number;
  session: number;
}

describe("egress forwarder", () => {
  test("relays a connection to the proxy's socket and back, 5 MB each way intact", async (t) => {
    const received: string[] = [];
    const proxy = await fakeProxy(t, (socket) => {
      const hash = createHash("sha256");
      socket.on("data", (chunk: Buffer) => hash.update(chunk));
      socket.on("end", () => received.push(hash.digest("hex")));
      echo(socket);
    });
    const box = await sandbox(t, proxy.dir);
    const out = await python(
      box,
      String.raw`${PRELUDE}
s = connect()
s.sendall(b"hello proxy")
got = b""
while len(got) < 11:
    got += s.recv(64)
print("small", got.decode())
s.close()

data = os.urandom(5 * 1024 * 1024)
s = connect(60)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
sender = threading.Thread(target=send)
sender.start()
back = read_all(s)
sender.join()
print("sent", hashlib.sha256(data).hexdigest())
print("back", len(back), hashlib.sha256(back).hexdigest())
`,
      60_000,
    );
    const lines = out.trim().split("\n");
    assert.equal(lines[0], "small hello proxy");
    const sent = lines[1]?.split(" ")[1];
    assert.match(sent ?? "", /^[0-9a-f]{64}$/);
    assert.equal(lines[2], `back ${5 * 1024 * 1024} ${sent}`); // proxy to program intact
    assert.ok(received.includes(sent ?? ""), "program to proxy intact"); // the echo server saw it all
  });

  test("40 connections at once, each relayed on its own", async (t) => {
    const wanted = 40;
    let open = 0;
    let allOpen: () => void = () => undefined;
    const everyoneConnected = new Promise<void>((resolve) => {
      allOpen = resolve;
    });
    // No connection is answered until all 40 are open at the proxy at once.
    const proxy = await fakeProxy(t, (socket) => {
      if (++open === wanted) allOpen();
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("end", () => {
        void everyoneConnected.then(() => socket.end(Buffer.concat(chunks)));
      });
    });
    const box = await sandbox(t, proxy.dir);
    const out = await python(
      box,
      String.raw`${PRELUDE}
socks = [connect() for _ in range(${wanted})]
messages = [f"connection {i};".encode() * 500 for i in range(len(socks))]
for s, message in zip(socks, messages):
    s.sendall(message)
    s.shutdown(socket.SHUT_WR)
print(sum(read_all(s) == message for s, message in zip(socks, messages)))
`,
    );
    assert.equal(out.trim(), String(wanted));
    assert.equal(open, wanted);
  });

  test("half-close: each side's end-of-file reaches the other, which can still answer", async (t) => {
    const late: string[] = [];
    const proxy = await fakeProxy(t, (socket) => {
      let text = "";
      let endedFirst = false;
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        // "bye first": the proxy ends its side before the program does.
        if (text === "bye first\n" && !endedFirst) {
          endedFirst = true;
          socket.end("bye\n");
        }
      });
      socket.on("end", () => {
        if (endedFirst) late.push(text);
        else socket.end(`saw end-of-file after ${text.length} bytes\n`);
      });
    });
    const box = await sandbox(t, proxy.dir);
    const out = await python(
      box,
      String.raw`${PRELUDE}
# The program ends its side first; the proxy answers once it has seen that.
s = connect()
s.sendall(b"x" * 100000)
s.shutdown(socket.SHUT_WR)
print(read_all(s).decode(), end="")
# The proxy ends its side first; the program still writes after that.
s = connect()
s.sendall(b"bye first\n")
print(read_all(s).decode(), end="")
s.sendall(b"written after the proxy's end\n")
s.shutdown(socket.SHUT_WR)
assert read_all(s) == b""
`,
    );
    assert.equal(out, "saw end-of-file after 100000 bytes\nbye\n");
    // The program's socket is closed once its run ends; the proxy has heard the rest by then.
    for (let i = 0; i < 100 && late.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(late, ["bye first\nwritten after the proxy's end\n"]);
  });

  test("runs as uid 101 with nothing: no capabilities, no signals from the sandbox, survives a wipe", async (t) => {
    const proxy = await fakeProxy(t, echo);
    const box = await sandbox(t, proxy.dir);
    const before = JSON.parse(await python(box, FORWARDERS)) as ProcInfo[];
    assert.equal(before.length, 1, "exactly one process of uid 101");
    const forwarder = before[0] as ProcInfo;
    const { status } = forwarder;
    assert.equal(status.Uid?.trim(), "101\t101\t101\t101");
    assert.equal(status.Gid?.trim(), "101\t101\t101\t101");
    assert.equal(status.Groups?.trim() ?? "", "");
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
      assert.equal(status[set], "0000000000000000", set);
    assert.equal(status.NoNewPrivs, "1");
    assert.equal(status.PPid, "1");
    assert.equal(forwarder.session, forwarder.pid, "a session of its own");
    assert.equal(forwarder.pgrp, forwarder.pid, "a process group of its own");

    const attack = await python(
      box,
      String.raw`${PRELUDE}
pid = ${forwarder.pid}
out = []
for target in (pid, -pid):
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        try:
            os.kill(target, sig)
            out.append("signal-sent")
        except PermissionError:
            out.append("refused")
for path in ("environ", "mem", "fd/0"):
    try:
        open(f"/proc/{pid}/{path}", "rb").read(1)
        out.append("read " + path)
    except OSError:
        out.append("refused")
print(" ".join(out))
`,
    );
    assert.equal(attack.trim(), Array(9).fill("refused").join(" "));

    // Seen from this machine (as root, who may look): nothing open but
    // /dev/null and the listening socket - none of the supervisor's channel.
    if (process.getuid?.() === 0) {
      const hostPid = (await docker.getContainer(box.id).inspect()).State.Pid;
      const fdDir = `/proc/${forwarderHostPid(hostPid)}/fd`;
      const fds = readdirSync(fdDir).sort();
      const targets = fds.map((fd) => readlinkSync(`${fdDir}/${fd}`));
      assert.deepEqual(fds, ["0", "1", "2", "3"]);
      assert.deepEqual(targets.slice(0, 3), ["/dev/null", "/dev/null", "/dev/null"]);
      assert.match(targets[3] ?? "", /^socket:/);
    } else {
      t.diagnostic("not root: the forwarder's descriptors were not checked");
    }

    // The engine's wipe kills every sandbox process: not this one, and it counts it as none.
    assert.equal(await box.wipe(), true, "the wipe is clean");
    const after = JSON.parse(await python(box, FORWARDERS)) as ProcInfo[];
    assert.deepEqual(
      after.map((p) => p.pid),
      [forwarder.pid],
    );
    assert.equal(await python(box, ECHO_ONCE), "echo ok\n");
    assert.equal(await box.wipe(), true);
  });

  test("exists only where the proxy's socket is mounted: otherwise nothing listens on 3128", async (t) => {
    const notASocket = tempDir(t);
    writeFileSync(join(notASocket, "egress.sock"), "");
    const emptyDir = tempDir(t);
    const boxes = await Promise.all([sandbox(t), sandbox(t, emptyDir), sandbox(t, notASocket)]);
    for (const box of boxes) {
      assert.equal(await python(box, CONNECT_REFUSED), "refused\n");
      assert.deepEqual(JSON.parse(await python(box, FORWARDERS)), []);
    }
  });

  test("with the proxy gone, a connection is closed at once, not left hanging", async (t) => {
    const proxy = await fakeProxy(t, echo);
    const box = await sandbox(t, proxy.dir);
    assert.equal(await python(box, ECHO_ONCE), "echo ok\n");
    await proxy.close();
    const out = await python(
      box,
      String.raw`${PRELUDE}
for attempt in range(3):
    started = time.monotonic()
    try:
        s = connect(10)
        s.sendall(b"anyone there?")
        outcome = "closed" if s.recv(100) == b"" else "answered"
    except (ConnectionResetError, BrokenPipeError):
        outcome = "reset"
    except socket.timeout:
        outcome = "hung"
    print(outcome, round(time.monotonic() - started, 3))
`,
    );
    for (const line of out.trim().split("\n")) {
      const [outcome, seconds] = line.split(" ");
      assert.ok(outcome === "closed" || outcome === "reset", line);
      assert.ok(Number(seconds) < 2, line);
    }
  });

  test("a forwarder that died leaves its port refusing, and the container unfit for reuse", {
    skip:
      process.getuid?.() !== 0 &&
      "only root on this machine can kill the forwarder (it runs as another user)",
  }, async (t) => {
    const proxy = await fakeProxy(t, echo);
    const box = await sandbox(t, proxy.dir);
    assert.equal(await python(box, ECHO_ONCE), "echo ok\n");
    const pid = forwarderHostPid((await docker.getContainer(box.id).inspect()).State.Pid);
    process.kill(pid, "SIGKILL");
    // Gone, or a zombie: either way its descriptors, the port among them, are closed.
    const dead = () => {
      try {
        return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 100 && !dead(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await python(box, CONNECT_REFUSED), "refused\n");
    assert.equal(await box.wipe(), false, "the wipe reports the container dirty");
  });

  test("holds 128 connections and closes any beyond them", async (t) => {
    const proxy = await fakeProxy(t, echo);
    const box = await sandbox(t, proxy.dir);
    const out = await python(
      box,
      String.raw`${PRELUDE}
def roundtrip(s):
    s.sendall(b"hi")
    got = b""
    while len(got) < 2:
        chunk = s.recv(2 - len(got))
        if not chunk:
            return "closed"
        got += chunk
    return "relayed"
held = [connect() for _ in range(128)]
print(sorted(set(roundtrip(s) for s in held)))
extra = connect()
try:
    print("extra", roundtrip(extra))
except (ConnectionResetError, BrokenPipeError):
    print("extra closed")
held.pop().close()
for attempt in range(100):  # the forwarder frees the slot once it has seen the close
    try:
        if roundtrip(connect()) == "relayed":
            break
    except (ConnectionResetError, BrokenPipeError):
        pass
    time.sleep(0.02)
print("after one closed", "relayed" if attempt < 99 else "still refused")
`,
    );
    assert.equal(out, "['relayed']\nextra closed\nafter one closed relayed\n");
  });
});

/** The host pid of the container's process of uid 101 (the supervisor's child). */
function forwarderHostPid(supervisorPid: number): number {
  const children = readFileSync(`/proc/${supervisorPid}/task/${supervisorPid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  const forwarder = children.find((pid) =>
    /^Uid:\s+101\s/m.test(readFileSync(`/proc/${pid}/status`, "utf8")),
  );
  assert.ok(forwarder, "the supervisor's child of uid 101");
  return forwarder;
}
