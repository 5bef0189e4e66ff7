// The wipe between two runs of a reused container (poolStrategy "fast"):
// a census of everything the sandbox user can leave behind - files and
// their metadata in every writable place, the mount points' own mode,
// times and attributes, SysV and POSIX IPC objects, processes, memory -
// taken of a fresh container, then after a program planted one of each
// kind and the supervisor wiped it. The two must match; a wipe that cannot
// undo something must say so, so that the container is not reused.
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { DockerBackend } from "../../src/backend/docker/docker-backend.js";
import { DockerStdioDemuxer } from "../../src/backend/docker/stdio.js";
import { createDebugLog } from "../../src/engine/debug-log.js";
import { resolveOptions } from "../../src/engine/options.js";
import type { ExitReport } from "../../src/engine/protocol.js";
import { SandboxContainer } from "../../src/engine/sandbox-container.js";
import { engine } from "../support/engine.js";

const docker = createDockerClient();
const log = createDebugLog(false);
const MB = 1024 * 1024;
/** How far a wiped container's charged memory may be above a fresh one's. */
const MEMORY_SLACK = 4 * MB;

/** A started sandbox from the stock spec (no prestarted interpreter), removed when the test ends. */
async function sandbox(t: TestContext): Promise<SandboxContainer> {
  const box = await SandboxContainer.create(
    new DockerBackend(docker),
    { image: "isol8:python", hardening: resolveOptions({}), labels: {}, keep: false },
    log,
  );
  t.after(() => box.remove());
  return box;
}

/** Runs a Python program as the sandbox user; returns its stdout, failing on a non-zero exit. */
async function python(box: SandboxContainer, code: string): Promise<string> {
  let stdout = "";
  let stderr = "";
  const report: ExitReport = await box.run(
    {
      argv: ["python3", "/sandbox/main.py"],
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/sandbox", LANG: "C.UTF-8" },
      workdir: "/sandbox",
      files: [{ path: "/sandbox/main.py", content: code }],
      timeoutMs: 60_000,
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
  assert.equal(report.exitCode, 0, `the program failed: ${stderr}`);
  return stdout;
}

/** Runs `argv` in the container through `docker exec`; returns its stdout. */
async function exec(
  box: SandboxContainer,
  argv: string[],
  options: { user?: string; privileged?: boolean } = {},
): Promise<string> {
  const run = await docker.getContainer(box.id).exec({
    Cmd: argv,
    User: options.user ?? "100:100",
    // Not /sandbox: python reads the folder it starts in, which sets its access time.
    WorkingDir: "/",
    Privileged: options.privileged ?? false,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await run.start();
  let stdout = "";
  let stderr = "";
  const demuxer = new DockerStdioDemuxer(
    (chunk) => {
      stdout += chunk.toString();
    },
    (chunk) => {
      stderr += chunk.toString();
    },
  );
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => demuxer.push(chunk));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const { ExitCode } = await run.inspect();
  assert.equal(ExitCode, 0, `${argv.join(" ")} failed: ${stderr}`);
  return stdout;
}

/** What the census script prints. */
interface Census {
  /** Per writable mount point: mode, owner, times (ns) and extended attributes (hex). */
  mounts: Record<string, Record<string, unknown>>;
  /** Per writable mount point: every path below it, and folders that could not be read. */
  entries: Record<string, string[]>;
  /** SysV objects per kind, as /proc/sysvipc lists them. */
  sysv: Record<string, string[]>;
  /** Command lines of the sandbox user's processes (the census's own excluded). */
  processes: string[];
  /** Resident plus shared memory charged to the container (v1 rss+shmem, v2 anon+shmem). */
  memory: number;
}

/**
 * Everything the sandbox user can write or leave running, read as that user
 * through `docker exec` (which the supervisor knows nothing of). Mount
 * points are stat'ed before anything is listed: listing a folder may set
 * its access time.
 */
const CENSUS = String.raw`
import json, os
PLACES = ["/sandbox", "/tmp", "/dev/shm", "/dev/mqueue"]
def meta(path):
    st = os.lstat(path)
    names = os.listxattr(path, follow_symlinks=False)
    return {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
            "atime": st.st_atime_ns, "mtime": st.st_mtime_ns,
            "xattrs": {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in sorted(names)}}
mounts = {p: meta(p) for p in PLACES}
entries = {}
for place in PLACES:
    found = []
    def unreadable(error, found=found):
        found.append("unreadable: " + str(error.filename))
    for root, dirs, files in os.walk(place, onerror=unreadable):
        found += [os.path.join(root, name) for name in dirs + files]
    entries[place] = sorted(found)
sysv = {}
for kind in ["shm", "msg", "sem"]:
    with open("/proc/sysvipc/" + kind) as f:
        sysv[kind] = [line.split()[1] for line in f.readlines()[1:]]
processes = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():
        continue
    try:
        status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        continue
    if status["Uid"].split()[0] == "100" and status["State"].split()[0] not in "ZX":
        processes.append(cmdline.strip())
def stat_file(path):
    with open(path) as f:
        return dict((k, int(v)) for k, v in (line.split() for line in f))
if os.path.exists("/sys/fs/cgroup/memory.stat"):
    s = stat_file("/sys/fs/cgroup/memory.stat"); memory = s["anon"] + s["shmem"]
else:
    s = stat_file("/sys/fs/cgroup/memory/memory.stat"); memory = s["rss"] + s["shmem"]
print(json.dumps({"mounts": mounts, "entries": entries, "sysv": sysv,
                  "processes": sorted(processes), "memory": memory}))
`;

async function census(box: SandboxContainer): Promise<Census> {
  return JSON.parse(await exec(box, ["python3", "-I", "-c", CENSUS])) as Census;
}

/** Python: holds 64 MB, touched, until killed. */
const HOLD_MEMORY = "import time\nheld = b'h' * (64 * 1024 * 1024)\ntime.sleep(600)";

/** Waits (a bounded while) until the memory charged to the container is above `bytes`. */
async function waitForMemory(box: SandboxContainer, bytes: number): Promise<void> {
  for (let tries = 0; tries < 40; tries++) {
    if ((await census(box)).memory > bytes) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`the container's charged memory never went above ${bytes} bytes`);
}

/** The engine wipes a used container in the background: this gives it its moment. */
const wipeTime = () => new Promise((r) => setTimeout(r, 1000));

/**
 * One of each kind of thing the sandbox user can create, in every place it
 * can write to. Prints what it managed, kind by kind: "planted", or why it
 * was refused (which is the point for some kinds: see the test).
 */
const PLANT = String.raw`
import ctypes, json, os, signal, socket, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.sem_open.restype = ctypes.c_void_p
IPC_CREAT, MB = 0o1000, 1024 * 1024
def ok(rc):
    if rc is None or rc == -1 or rc == ctypes.c_void_p(-1).value:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc
def files():
    for d in ["/sandbox", "/tmp", "/dev/shm"]:
        os.makedirs(f"{d}/.hidden/deep")
        with open(f"{d}/.hidden/deep/file", "w") as f:
            f.write("left over")
        os.chmod(f"{d}/.hidden/deep", 0)
        os.chmod(f"{d}/.hidden", 0)
        os.mkfifo(f"{d}/fifo")
        os.symlink("/etc/passwd", f"{d}/link")
        with open(f"{d}/file", "w") as f:
            f.write("x" * MB)
        os.link(f"{d}/file", f"{d}/hardlink")
        os.setxattr(f"{d}/file", "user.note", b"for the next run")
        socket.socket(socket.AF_UNIX).bind(f"{d}/socket")
def sysv_shm():
    segment = ok(libc.shmget(0x150801, 64 * MB, IPC_CREAT | 0o600))
    ctypes.memset(ok(libc.shmat(segment, None, 0)), 7, 64 * MB)
def sysv_msg():
    queue = ok(libc.msgget(0x150802, IPC_CREAT | 0o600))
    message = struct.pack("l", 1) + b"for the next run"
    ok(libc.msgsnd(queue, message, len(message) - 8, 0))
def sysv_sem():
    ok(libc.semget(0x150803, 4, IPC_CREAT | 0o600))
def posix_shm():
    fd = os.open("/dev/shm/isol8-posix-shm", os.O_CREAT | os.O_RDWR, 0o600)
    os.write(fd, b"s" * (16 * MB))
def posix_sem():
    ok(libc.sem_open(b"/isol8-sem", os.O_CREAT, 0o600, 1))
def posix_mq():
    ok(libc.mq_open(b"/isol8-queue", os.O_CREAT | os.O_RDWR, 0o600, None))
def mqueue_file():
    open("/dev/mqueue/isol8-file", "w").close()
def mount_xattr():
    os.setxattr("/sandbox", "user.note", b"for the next run")
def mount_acl():
    # A default ACL: files the next run creates in /sandbox would be rwx for everyone.
    entries = b"".join(struct.pack("<HHI", tag, 7, 0xFFFFFFFF) for tag in (0x01, 0x04, 0x20))
    os.setxattr("/sandbox", "system.posix_acl_default", struct.pack("<I", 2) + entries)
def mount_mode():
    os.chmod("/sandbox", 0o755)
def mount_times():
    os.utime("/sandbox", (1, 1))
    for d in ["/tmp", "/dev/shm"]:
        os.utime(d)
def daemon():
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            held = os.memfd_create("isol8-held")
            os.write(held, b"m" * (16 * MB))
            unlinked = open("/tmp/unlinked", "wb")
            unlinked.write(b"u" * (8 * MB))
            unlinked.flush()
            os.unlink("/tmp/unlinked")
            abstract = socket.socket(socket.AF_UNIX)
            abstract.bind("\0isol8-abstract")
            abstract.listen()
            os.write(ready_w, b"1")
            while True:
                time.sleep(100)
        os._exit(0)
    os.read(ready_r, 1)
done = {}
for kind in [files, sysv_shm, sysv_msg, sysv_sem, posix_shm, posix_sem, posix_mq, mqueue_file,
             mount_xattr, mount_acl, mount_mode, mount_times, daemon]:
    try:
        kind()
        done[kind.__name__] = "planted"
    except OSError as error:
        done[kind.__name__] = error.strerror
print(json.dumps(done))
`;

describe("wipe census", () => {
  test("a wiped container is, for everything the sandbox user can make, a fresh one", async (t) => {
    const box = await sandbox(t);
    const fresh = await census(box);
    assert.deepEqual(fresh.processes, []);

    const planted = JSON.parse(await python(box, PLANT)) as Record<string, string>;
    // POSIX message queues are not the sandbox user's to create (/dev/mqueue is read-only to it).
    assert.equal(planted.posix_mq, "Permission denied");
    assert.equal(planted.mqueue_file, "Permission denied");
    for (const [kind, outcome] of Object.entries(planted)) {
      if (kind === "posix_mq" || kind === "mqueue_file") continue;
      assert.equal(outcome, "planted", `could not plant ${kind}`);
    }

    // The census sees each of them, so that its verdict after the wipe means something.
    const dirty = await census(box);
    for (const place of ["/sandbox", "/tmp", "/dev/shm"])
      assert.ok(dirty.entries[place]?.length, `nothing seen in ${place}`);
    for (const kind of ["shm", "msg", "sem"])
      assert.equal(dirty.sysv[kind]?.length, 1, `SysV ${kind}`);
    for (const place of ["/sandbox", "/tmp", "/dev/shm"])
      assert.notDeepEqual(dirty.mounts[place], fresh.mounts[place], `${place} metadata`);
    assert.ok(dirty.memory > fresh.memory + 64 * MB, `memory ${dirty.memory} vs ${fresh.memory}`);

    assert.equal(await box.wipe(), true, "the wipe reports the container clean");
    const wiped = await census(box);
    const { memory, ...rest } = wiped;
    const { memory: freshMemory, ...freshRest } = fresh;
    assert.deepEqual(rest, freshRest);
    assert.ok(
      memory <= freshMemory + MEMORY_SLACK,
      `charged memory ${memory} bytes after the wipe, ${freshMemory} fresh`,
    );
  });

  test("a second container from the image starts as the first did (one definition of fresh)", async (t) => {
    const [a, b] = await Promise.all([sandbox(t), sandbox(t)]);
    const [first, second] = await Promise.all([census(a), census(b)]);
    const shape = (c: Census) => ({
      entries: c.entries,
      sysv: c.sysv,
      processes: c.processes,
      mounts: Object.fromEntries(
        Object.entries(c.mounts).map(([place, { atime: _a, mtime: _m, ...meta }]) => [place, meta]),
      ),
    });
    assert.deepEqual(shape(first), shape(second));
  });

  // Stand-ins for a leftover the wipe cannot undo: what a process of another
  // user (uid 101, the egress forwarder's, through docker exec) holds is out
  // of the supervisor's reach, as it is out of the sandbox user's.
  test("memory the wipe cannot give back: the container is reported dirty", async (t) => {
    const box = await sandbox(t);
    await python(box, "print('a run')");
    const idle = (await census(box)).memory;
    // In the background with its output elsewhere, so that the exec (and its connection) ends.
    await exec(box, ["sh", "-c", 'python3 -c "$0" >/dev/null 2>&1 &', HOLD_MEMORY], {
      user: "101:101",
    });
    await waitForMemory(box, idle + 64 * MB);
    assert.equal(await box.wipe(), false);
  });

  test("an IPC object the wipe cannot remove: the container is reported dirty", async (t) => {
    const box = await sandbox(t);
    await python(box, "print('a run')");
    const made = `import ctypes; print(ctypes.CDLL(None).msgget(0x150805, 0o1600))`;
    assert.match(await exec(box, ["python3", "-c", made], { user: "101:101" }), /^\d+\n$/);
    assert.equal(await box.wipe(), false);
  });
});

describe("reused containers through the engine", () => {
  test("a 450 MB SysV segment left by one run does not OOM-kill the next", async () => {
    const isol8 = engine({ poolSize: { clean: 1, dirty: 1 }, memoryLimit: "512m" });
    const first = await isol8.execute({
      runtime: "python",
      code: [
        "import ctypes",
        "libc = ctypes.CDLL(None)",
        "libc.shmat.restype = ctypes.c_void_p",
        "libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]",
        "size = 450 * 1024 * 1024",
        "segment = libc.shmget(0x150804, size, 0o1600)",
        "ctypes.memset(libc.shmat(segment, None, 0), 1, size)",
        "print('left', segment)",
      ].join("\n"),
    });
    assert.match(first.stdout, /^left \d+/);
    await wipeTime();
    const second = await isol8.execute({
      runtime: "python",
      code: "data = bytearray(300 * 1024 * 1024)\nprint('allocated', len(data) // 2**20)",
    });
    assert.equal(second.containerId, first.containerId, "the container was reused");
    assert.equal(second.oomKilled, false);
    assert.equal(second.stdout, "allocated 300\n");
  });

  test("python multiprocessing (semaphores in /dev/shm) works in a reused container", async () => {
    const isol8 = engine({ poolSize: { clean: 1, dirty: 1 } });
    const code = [
      "import multiprocessing as mp",
      "def square(x):",
      "    return x * x",
      "if __name__ == '__main__':",
      "    lock, queue = mp.Lock(), mp.Queue()",
      "    with lock:",
      "        queue.put('queued')",
      "    with mp.Pool(2) as pool:",
      "        print(sum(pool.map(square, range(10))), queue.get())",
    ].join("\n");
    const first = await isol8.execute({ runtime: "python", code });
    assert.equal(first.stdout, "285 queued\n", first.stderr);
    await wipeTime();
    const second = await isol8.execute({ runtime: "python", code });
    assert.equal(second.containerId, first.containerId, "the container was reused");
    assert.equal(second.stdout, "285 queued\n", second.stderr);
  });
});
