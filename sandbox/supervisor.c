/*
 * isol8-supervisor: PID 1 of every isol8 sandbox container.
 *
 * It talks to the engine over its own stdin/stdout (the container's attached
 * stdio) with a framed protocol, runs each requested program as the sandbox
 * user (uid 100) with every capability gone, streams that program's output
 * back, enforces the timeout by killing every sandbox-user process, and
 * reports how the run ended.
 *
 * Why it runs as root: a process of the same uid as the sandboxed code could
 * be signalled, reniced or prlimit()ed by that code. As root (with only
 * CAP_SETUID, CAP_SETGID and CAP_SETPCAP, all of which children drop before
 * exec) and non-dumpable, the supervisor is out of the sandbox's reach, and
 * as PID 1 it cannot be sent a signal it has no handler for.
 *
 * Frame: 1 byte type, 4 byte big-endian payload length, payload.
 *   engine -> supervisor
 *     'R' run: payload is a list of fields (1 byte tag, 4 byte BE length, bytes):
 *         'a' argv entry (in order)   'e' env entry "K=V"   'w' working directory
 *         (under /sandbox/ and missing: created with its parents, as the sandbox user)
 *         'f' file path, then 'd' its bytes (written as the sandbox user)
 *         'g' like 'f', but 'd' is appended to the file (large files arrive in parts)
 *         't' timeout in ms (decimal) 'o' output limit per stream in bytes (decimal)
 *         'p' (empty) the run may use the prestarted interpreter (see 'P')
 *     'P' prestart: fields 'a' (bootstrap argv), 'e' (bootstrap env: the runtime's
 *         fixed variables only), 'w'. Whenever it is idle - after this frame,
 *         after a wipe's 'C', and once the channel has been quiet for a moment
 *         after a run - the supervisor keeps one child forked exactly as for
 *         a run (same privilege drop, fresh stdin/stdout/stderr pipes) that
 *         has exec'd this bootstrap, which blocks reading fd 3. A run with
 *         'p' whose argv[0] is the bootstrap's and whose argv[1] is a file
 *         takes that child: the supervisor writes the files (as the sandbox
 *         user), sends argv, env and working directory down fd 3 as
 *         NUL-terminated entries "a<arg>", "e<K=V>", "w<dir>", closes it, and
 *         runs the program on the child's pipes. Otherwise (or when no
 *         prestarted child is alive) the run forks and execs its argv as usual.
 *     'I' stdin bytes for the running program   'E' end of its stdin
 *         (the engine keeps at most STDIN_WINDOW bytes of 'I' frames unanswered
 *         by 'T', so the channel never holds more than this reads ahead)
 *     'K' signal number (decimal) for the running program's process group
 *     'A' signal number (decimal) for every process of the sandbox user, sent
 *         with kill(-1) as that user: a code context is stopped (SIGSTOP) and
 *         woken (SIGCONT) this way between cells, so a process that left the
 *         kernel's group or session is stopped with the rest; answered by 'S'
 *     'W' wipe: kill every sandbox process, remove every SysV IPC object, empty
 *         /sandbox, /tmp, /dev/shm and /dev/mqueue, put those mount points' mode,
 *         times and extended attributes back as they were at start-up, give the
 *         supervisor's spare memory back, and verify all of it, and that the
 *         memory charged to the container is back to its start-up level
 *     'L' linger: when the engine goes away, keep the container running (debugging)
 *     'Q' quit
 *     'N' new process (processes.c; from the first one on, the container is a
 *         long-lived sandbox: 'R' and 'P' are refused, a 'W' is answered 'D'):
 *         4-byte id, then fields 'a', 'e', 'w' as for 'R', 't' timeout in ms,
 *         'y' "cols rows": run it on a new pseudo-terminal of that size
 *     'J' stdin bytes: 4-byte id, bytes (at most 256 KiB of them unanswered by 'j')
 *     'F' end of stdin: 4-byte id (on a terminal, the EOF character)
 *     'G' signal: 4-byte id, signal number (decimal) for the process's group
 *     'Y' resize: 4-byte id, "cols rows" for its terminal (and SIGWINCH)
 *     'U' credit: 4-byte id, 4-byte count of its output bytes the engine has taken
 *     'B' file request (files.c; like 'N', it makes the container a long-lived
 *         sandbox): 4-byte request id, 1-byte operation, then fields 'p' path,
 *         'q' path to move to, 'd' depth (decimal), 'r' (empty) recursive.
 *         Operations: 's' stat (a symlink as itself), 'r' read, 'w' write
 *         (folders made, file truncated; its bytes follow in 'M'), 'l' list,
 *         'm' make folder (with parents), 'n' move, 'x' remove (a folder with
 *         all in it), 'v' watch a folder. Every request is answered by one
 *         'f', after its 'd' frames; a watch's 'f' says it has started, and a
 *         later 'f' (an error) that the sandbox ended it
 *     'M' write data: 4-byte id, bytes (at most 64 KiB a frame, and 256 KiB of
 *         them unanswered by 'w'); with no bytes: the end of the file
 *     'V' file credit: 4-byte id, 4-byte count of its 'd' bytes the engine has taken
 *     'b' stop: 4-byte id: ends a read, a listing or a watch, abandons a write
 *         (what was written stays) - no answer follows
 *   supervisor -> engine
 *     'H' hello (version)   '1' stdout bytes   '2' stderr bytes
 *     'X' exit report: "key=value\n" lines
 *     'S' the signal of an 'A' frame has been sent (also after the run ended)
 *     'T' taken: how many bytes of 'I' frames (decimal) the program took, or
 *         that were dropped because its stdin had ended
 *     'C' wipe finished, clean   'D' wipe failed: container must not be reused
 *     'Z' protocol or internal error (text); the supervisor exits after it
 *     'n' process started: 4-byte id, 4-byte pid; pid 0 and a reason if it could not
 *     'O' process output: 4-byte id, '1' stdout (or the terminal) or '2' stderr, bytes;
 *         at most 256 KiB of a process's output is ever uncredited by 'U'
 *     'j' stdin taken: 4-byte id, 4-byte count (or dropped: its stdin had ended)
 *     'x' process ended: 4-byte id, "key=value\n" lines as in 'X' (exit, signal,
 *         timeout, cpu_us, max_rss_kb, wall_us) once its output is drained
 *     'f' file answer: 4-byte id, 'k' and the operation's result (stat, write,
 *         move: one entry; make folder: "1" made or "0" was there), or 'e' and
 *         "CODE text": an errno name (ENOENT, EEXIST, ...), ESCAPE (outside
 *         /sandbox and /tmp, or led out by a symlink or ".."), or SPECIAL (a
 *         FIFO, socket or device). Entry: 1-byte type ('f' file, 'd' folder,
 *         'l' symlink, 'p' FIFO, 's' socket, 'c'/'b' device), 4-byte mode bits,
 *         8-byte size, 8-byte mtime in ms, 4-byte length and path (relative to
 *         the listed folder; empty otherwise), 4-byte length and symlink target
 *     'd' file data: 4-byte id, a read's bytes or a listing's entries (whole ones);
 *         at most 256 KiB of a transfer's are ever uncredited by 'V'
 *     'w' write taken: 4-byte id, 4-byte count of 'M' bytes written
 *     'e' watch event: 4-byte id, 1-byte type ('c' create, 'w' write, 'r' remove,
 *         'm' renamed away, 'a' attributes), the name relative to the watched folder
 * When its stdin closes (the engine went away) it kills everything and exits,
 * which stops the container.
 *
 * Filtered network: when the engine mounted its egress proxy's socket, the
 * supervisor starts the egress forwarder (egress-forwarder.c) before its
 * hello, and a wipe reports the container dirty once that forwarder died.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "egress-forwarder.h"
#include "sandbox-seed.h"
#include "supervisor.h"

#define VERSION "isol8-supervisor 5"
#define MAX_FRAME (96u * 1024u * 1024u)
/* How far the channel is read ahead while the program has input left to take:
 * more than the engine's window of unanswered stdin (1 MB) and the small
 * frames beside it, so all the engine sent is read, and its hang-up seen. */
#define CHANNEL_READ_AHEAD (2u * 1024u * 1024u)
#define MAX_FILES 4096
/* After a run, the prestarted child is started once the channel has been
 * quiet this long: a pooled container is wiped right after its run, and a
 * wipe would kill an interpreter started in between. */
#define PRESTART_GRACE_US 15000

extern char **environ;

/* Channel input not yet handled (see "channel input" below). */
static unsigned char *in_buf;
static size_t in_len, in_cap;

/* ---------- small helpers ---------- */


int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void send_frame(char type, const void *payload, uint32_t len) {
  unsigned char header[5] = {(unsigned char)type, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len};
  struct iovec iov[2] = {{header, 5}, {(void *)payload, len}};
  size_t total = 5 + len;
  while (total > 0) {
    ssize_t n = writev(STDOUT_FILENO, iov, 2);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(3); /* the engine is gone; nothing left to report to */
    }
    total -= (size_t)n;
    for (int i = 0; i < 2 && n > 0; i++) {
      size_t take = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
      iov[i].iov_base = (char *)iov[i].iov_base + take;
      iov[i].iov_len -= take;
      n -= (ssize_t)take;
    }
  }
}

void send_text(char type, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n >= (int)sizeof buf) n = sizeof buf - 1;
  send_frame(type, buf, (uint32_t)n);
}

/* Tells the engine the program took (or the supervisor dropped) this many stdin bytes. */
static void send_taken(size_t n) { send_text('T', "%zu", n); }

/* When PID 1 exits the kernel kills every other process in the container,
 * so leaving is also the last word on cleanup. */
_Noreturn void leave(int code) { _exit(code); }

void fatal(const char *fmt, const char *detail) {
  send_text('Z', fmt, detail);
  leave(2);
}

void die_errno(const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  fatal("%s", msg);
}

uint32_t be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Acting as the sandbox user for file and signal operations, without giving
 * up the root identity that keeps the sandbox from touching us. */
void become_sandbox_effective(void) {
  if (setresgid(-1, SANDBOX_GID, -1) != 0 || setresuid(-1, SANDBOX_UID, -1) != 0) die_errno("seteuid");
}
void become_root_effective(void) {
  if (setresuid(-1, 0, -1) != 0 || setresgid(-1, 0, -1) != 0) die_errno("restore euid");
  prctl(PR_SET_DUMPABLE, 0);
}

/* ---------- cgroup readings (v1 and v2) ---------- */

static long long read_number_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long long v = -1;
  if (fscanf(f, "%lld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

static long long read_keyed_file(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char name[128];
  long long v;
  long long found = -1;
  while (fscanf(f, "%127s %lld", name, &v) == 2) {
    if (strcmp(name, key) == 0) {
      found = v;
      break;
    }
  }
  fclose(f);
  return found;
}

static long long oom_kill_count(void) {
  long long v = read_keyed_file("/sys/fs/cgroup/memory.events", "oom_kill");
  if (v < 0) v = read_keyed_file("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill");
  return v;
}

static long long peak_memory_bytes(void) {
  long long v = read_number_file("/sys/fs/cgroup/memory.peak");
  if (v < 0) v = read_number_file("/sys/fs/cgroup/memory/memory.max_usage_in_bytes");
  return v;
}

/* ---------- the run request ---------- */

struct file_spec {
  const char *path;
  const char *data;
  uint32_t len;
  int append;
};


struct run_request {
  struct launch l;
  struct file_spec files[MAX_FILES];
  int filec;
  long long timeout_ms;
  long long output_limit;
  int may_prestart;
};

/* Takes the next field of a frame: its tag and its value, NUL-terminated in
 * place by moving it one byte left over its own length prefix, which is no
 * longer needed once read. Returns 1, 0 at the end, or -1 (*problem says why). */
int next_field(unsigned char *p, uint32_t len, uint32_t *off, unsigned char *tag, char **value,
                      uint32_t *flen, const char **problem) {
  if (*off >= len) return 0;
  if (len - *off < 5) {
    *problem = "truncated field header";
    return -1;
  }
  *tag = p[*off];
  *flen = be32(p + *off + 1);
  if (*flen > len - *off - 5) {
    *problem = "field longer than frame";
    return -1;
  }
  *value = (char *)p + *off;
  memmove(*value, p + *off + 5, *flen);
  (*value)[*flen] = '\0';
  *off += 5 + *flen;
  return 1;
}

/* The 'a', 'e' and 'w' fields, common to 'R' and 'P'; 1 if the tag was one of them. */
int launch_field(struct launch *l, unsigned char tag, char *value, const char **problem) {
  switch (tag) {
  case 'a':
    if (l->argc >= MAX_ARGS) *problem = "too many arguments";
    else l->argv[l->argc++] = value;
    return 1;
  case 'e':
    if (l->envc >= MAX_ENV) *problem = "too many environment variables";
    else l->envp[l->envc++] = value;
    return 1;
  case 'w':
    l->workdir = value;
    return 1;
  default:
    return 0;
  }
}

/* Fields point into the frame buffer, which lives until the run ends. */
static const char *parse_run(unsigned char *p, uint32_t len, struct run_request *req) {
  memset(req, 0, sizeof *req);
  req->timeout_ms = 30000;
  req->output_limit = 1024 * 1024;
  uint32_t off = 0, flen;
  unsigned char tag;
  char *value;
  const char *problem = NULL;
  int more;
  while ((more = next_field(p, len, &off, &tag, &value, &flen, &problem)) > 0) {
    if (launch_field(&req->l, tag, value, &problem)) {
      if (problem) return problem;
      continue;
    }
    switch (tag) {
    case 'f':
    case 'g':
      if (req->filec >= MAX_FILES) return "too many files";
      req->files[req->filec].path = value;
      req->files[req->filec].data = "";
      req->files[req->filec].append = tag == 'g';
      req->filec++;
      break;
    case 'd':
      if (req->filec == 0) return "file data without a path";
      req->files[req->filec - 1].data = value;
      req->files[req->filec - 1].len = flen;
      break;
    case 't':
      req->timeout_ms = atoll(value);
      break;
    case 'o':
      req->output_limit = atoll(value);
      break;
    case 'p':
      req->may_prestart = 1;
      break;
    default:
      return "unknown field";
    }
  }
  if (more < 0) return problem;
  if (req->l.argc == 0) return "no program to run";
  return NULL;
}

/* A 'P' frame: only 'a', 'e' and 'w'. */
static const char *parse_launch(unsigned char *p, uint32_t len, struct launch *l) {
  memset(l, 0, sizeof *l);
  uint32_t off = 0, flen;
  unsigned char tag;
  char *value;
  const char *problem = NULL;
  int more;
  while ((more = next_field(p, len, &off, &tag, &value, &flen, &problem)) > 0) {
    if (!launch_field(l, tag, value, &problem)) return "unknown field";
    if (problem) return problem;
  }
  if (more < 0) return problem;
  if (l->argc == 0) return "no program to run";
  return NULL;
}

/* ---------- the child: drop everything, place files, exec ---------- */

void child_fail(const char *what, const char *detail) {
  dprintf(STDERR_FILENO, "isol8: %s %s: %s\n", what, detail, strerror(errno));
  _exit(127);
}

static int mkdir_parents(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc != 0 && errno != EEXIST) return -1;
  }
  return 0;
}

static int path_is_allowed(const char *path) {
  if (strncmp(path, "/sandbox/", 9) != 0 && strncmp(path, "/tmp/", 5) != 0) return 0;
  return strstr(path, "/../") == NULL && strstr(path, "/./") == NULL;
}

/* Creates a run's working directory under /sandbox/ and its parents when
 * missing; as the sandbox user, like the files. Others are left to chdir(). */
int make_workdir(const char *workdir) {
  if (!workdir || strncmp(workdir, "/sandbox/", 9) != 0 || !path_is_allowed(workdir)) return 0;
  size_t n = strlen(workdir);
  char *dir = malloc(n + 2);
  if (!dir) return -1;
  memcpy(dir, workdir, n);
  memcpy(dir + n, "/", 2); /* mkdir_parents() makes every component before a '/' */
  int rc = mkdir_parents(dir);
  free(dir);
  return rc;
}

/* In a forked child: stdio on the given pipe ends (and, if ctl_fd >= 0, that
 * one on fd 3), every other descriptor closed, a session of its own, first
 * in line for the OOM killer, no capabilities in any set or in the bounding
 * set, the sandbox user's ids only, no new privileges ever. */
void enter_sandbox(int in_fd, int out_fd, int err_fd, int ctl_fd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL); /* ignored signals survive exec */

  /* The supervisor's own stdio holds fds 0-2, so every pipe end is above 2. */
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
  if (ctl_fd == 3) {
    if (fcntl(3, F_SETFD, 0) != 0) _exit(127);
  } else if (ctl_fd >= 0 && dup2(ctl_fd, 3) < 0) {
    _exit(127);
  }
  close_range(ctl_fd >= 0 ? 4 : 3, ~0U, 0);
  setsid();

  /* Under memory pressure the sandboxed program dies first, never us. */
  int oom = open("/proc/self/oom_score_adj", O_WRONLY);
  if (oom >= 0) {
    (void)!write(oom, "1000", 4);
    close(oom);
  }
  for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (setgroups(0, NULL) != 0) child_fail("cannot drop", "groups");
  if (setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID) != 0) child_fail("cannot set", "gid");
  if (setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) != 0) child_fail("cannot set", "uid");
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  umask(022);
}

/* Writes the request's files; must run as the sandbox user (really, or as
 * effective and filesystem uid) with umask 022. `open_flags` is added to
 * open()'s. On failure returns -1 with errno set, and *what and *path say
 * what failed. */
static int place_files(struct run_request *req, int open_flags, const char **what, const char **path) {
  for (int i = 0; i < req->filec; i++) {
    struct file_spec *f = &req->files[i];
    *path = f->path;
    if (!path_is_allowed(f->path)) {
      errno = EPERM;
      *what = "refusing to write";
      return -1;
    }
    char *dir = strdup(f->path);
    int made = dir ? mkdir_parents(dir) : -1;
    free(dir);
    if (made != 0) {
      *what = "cannot create folder for";
      return -1;
    }
    int mode = f->append ? O_APPEND : O_TRUNC;
    int fd = open(f->path, O_WRONLY | O_CREAT | mode | O_NOFOLLOW | O_CLOEXEC | open_flags, 0644);
    if (fd < 0 || write_all(fd, f->data, f->len) != 0) {
      int saved = errno;
      if (fd >= 0) close(fd);
      errno = saved;
      *what = "cannot write";
      return -1;
    }
    close(fd);
  }
  return 0;
}

_Noreturn void exec_launch(struct launch *l) {
  const char *workdir = l->workdir ? l->workdir : "/sandbox";
  if (chdir(workdir) != 0) child_fail("cannot enter working directory", workdir);
  l->argv[l->argc] = NULL;
  l->envp[l->envc] = NULL;
  environ = l->envp;
  execvp(l->argv[0], l->argv);
  child_fail("cannot run", l->argv[0]);
  _exit(127);
}

static _Noreturn void run_child(struct run_request *req, int in_fd, int out_fd, int err_fd) {
  enter_sandbox(in_fd, out_fd, err_fd, -1);
  const char *what, *path;
  if (place_files(req, 0, &what, &path) != 0) child_fail(what, path);
  if (make_workdir(req->l.workdir) != 0) child_fail("cannot create working directory", req->l.workdir);
  exec_launch(&req->l);
}

/* ---------- the prestarted interpreter ---------- */

/* The 'P' request and the child it keeps ready. The supervisor's pipe ends
 * are close-on-exec; the child's are closed here once it has them. */
static struct {
  unsigned char *frame; /* the 'P' payload, which `launch` points into; NULL: none asked for */
  struct launch launch;
  pid_t pid; /* 0: no prestarted child */
  int in_fd, out_fd, err_fd, ctl_fd;
  int64_t due; /* start one at this time (after a run); 0: not scheduled */
} pre = {.in_fd = -1, .out_fd = -1, .err_fd = -1, .ctl_fd = -1};

void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Forgets the prestarted child (it died, or was killed, or was taken by a run). */
static void prestart_forget(void) {
  pre.pid = 0;
  close_fd(&pre.in_fd);
  close_fd(&pre.out_fd);
  close_fd(&pre.err_fd);
  close_fd(&pre.ctl_fd);
}


/* Kills the idle prestarted child (reaped later with the other children),
 * and with it anything its start-up began (a persistent session's own
 * start-up files run there): a run that does not take it starts, as without
 * prestarting, with no other sandbox process alive. */
void prestart_discard(void) {
  if (pre.frame) kill_sandbox_processes();
  prestart_forget();
}

static void prestart_start(void) {
  pre.due = 0;
  if (!pre.frame || pre.pid > 0) return;
  int p[4][2];
  int made = 0;
  while (made < 4 && pipe2(p[made], O_CLOEXEC) == 0) made++;
  pid_t pid = made == 4 ? fork() : -1;
  if (pid == 0) {
    enter_sandbox(p[0][0], p[1][1], p[2][1], p[3][0]);
    exec_launch(&pre.launch);
  }
  for (int i = 0; i < made; i++) {
    int childs = i == 0 || i == 3 ? 0 : 1; /* stdin and fd 3 are read by the child */
    close(p[i][childs]);
    if (pid < 0) close(p[i][!childs]); /* no child: our ends too */
  }
  if (pid < 0) return; /* out of pipes or processes: runs start cold */
  pre.pid = pid;
  pre.in_fd = p[0][1];
  pre.out_fd = p[1][0];
  pre.err_fd = p[2][0];
  pre.ctl_fd = p[3][1];
}

/* ---------- killing and wiping ---------- */

/* Sends SIGKILL to every process of the sandbox user. kill(-1) runs under the
 * task list lock, so a fork bomb cannot add a process while it is delivered,
 * and a process with SIGKILL pending cannot finish a fork. */
void kill_sandbox_processes(void) {
  become_sandbox_effective();
  for (int i = 0; i < 3; i++) kill(-1, SIGKILL);
  become_root_effective();
}

/* The egress forwarder: 0 if this sandbox has none, -1 once it has died. */
static pid_t egress_pid;

/* Bookkeeping for a child that is not a run's program: the prestarted
 * interpreter, or the egress forwarder (see wipe()). */
void note_reaped(pid_t pid) {
  if (pid == pre.pid) prestart_forget();
  if (pid == egress_pid) egress_pid = -1;
}

static int reap_all(pid_t watched, int *watched_status, struct rusage *watched_usage) {
  int found = 0;
  for (;;) {
    int status;
    struct rusage usage;
    pid_t pid = wait4(-1, &status, WNOHANG, &usage);
    if (pid <= 0) break;
    note_reaped(pid);
    if (pid == watched) {
      *watched_status = status;
      *watched_usage = usage;
      found = 1;
    }
  }
  return found;
}

/* Counts live (non-zombie) processes of the sandbox user. */
static int count_sandbox_processes(void) {
  DIR *proc = opendir("/proc");
  if (!proc) return -1;
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(proc)) != NULL) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/status", entry->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    char line[256];
    int uid = -1;
    char state = '?';
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "State:", 6) == 0) sscanf(line + 6, " %c", &state);
      if (strncmp(line, "Uid:", 4) == 0) sscanf(line + 4, "%d", &uid);
    }
    fclose(f);
    if (uid == SANDBOX_UID && state != 'Z' && state != 'X') count++;
  }
  closedir(proc);
  return count;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  if (ftw->level == 0) return 0; /* keep the mount point itself */
  if (type == FTW_DP || type == FTW_D) return rmdir(path) == 0 ? 0 : -1;
  return unlink(path) == 0 ? 0 : -1;
}

static int make_traversable(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)ftw;
  if (type == FTW_D || type == FTW_DNR) chmod(path, (sb->st_mode & 07777) | 0700);
  return 0;
}

static int dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *entry;
  int empty = 1;
  while ((entry = readdir(d)) != NULL) {
    if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
      empty = 0;
      break;
    }
  }
  closedir(d);
  return empty;
}

/* ---------- what a fresh container looks like ---------- */

/* Every place the sandbox user can write to (the root is read-only; see
 * SECURITY.md). A wipe empties each one, and puts the mount point itself
 * back as it was when the container started: mode, times and extended
 * attributes (POSIX ACLs are attributes too). Owners need no record: no
 * process in the container can chown (no CAP_CHOWN), and the check after
 * the wipe compares them anyway. */
static const char *const WRITABLE[] = {"/sandbox", "/tmp", "/dev/shm", "/dev/mqueue"};
#define WRITABLE_COUNT (sizeof WRITABLE / sizeof *WRITABLE)
/* Extended attributes of one mount point: a fresh tmpfs has none, or an
 * LSM's label; more than this cannot be recorded, and the container is
 * then never reused (its wipe cannot be verified). */
#define XATTR_MAX 8
#define XATTR_NAME_MAX_LEN 256
#define XATTR_VALUE_MAX_LEN 512
/* How far above its idle baseline the memory charged to the container
 * (resident plus shared) may be after a wipe: the supervisor's own buffers
 * and the pages a first run makes it touch. */
#define MEMORY_SLACK_BYTES (4ll * 1024 * 1024)

struct xattr_entry {
  char name[XATTR_NAME_MAX_LEN];
  char value[XATTR_VALUE_MAX_LEN];
  ssize_t len;
};

struct mount_record {
  int present; /* 0: not in this container (a runtime without /dev/mqueue) */
  int valid;   /* 0: could not be recorded, so never restored: the wipe fails */
  struct stat st;
  struct xattr_entry xattrs[XATTR_MAX];
  int xattr_count;
};

static struct mount_record fresh_mounts[WRITABLE_COUNT];
/* Resident plus shared memory charged to the container before any run; -1: unknown. */
static long long fresh_memory = -1;

/* Memory charged to the container's cgroup by its processes and its shared
 * memory (tmpfs files, SysV and POSIX segments): cgroup v2 anon + shmem, v1
 * rss + shmem. Page cache does not count: the kernel reclaims it. -1 when
 * there is no memory cgroup to read (gVisor shows none). */
static long long charged_memory_bytes(void) {
  long long anon = read_keyed_file("/sys/fs/cgroup/memory.stat", "anon");
  long long shmem = read_keyed_file("/sys/fs/cgroup/memory.stat", "shmem");
  if (anon < 0 || shmem < 0) {
    anon = read_keyed_file("/sys/fs/cgroup/memory/memory.stat", "rss");
    shmem = read_keyed_file("/sys/fs/cgroup/memory/memory.stat", "shmem");
  }
  return anon < 0 || shmem < 0 ? -1 : anon + shmem;
}

/* Reads a path's extended attributes into `out`; -1 if there are more, or
 * larger ones, than a record holds. */
static int read_xattrs(const char *path, struct xattr_entry *out, int *count) {
  char names[XATTR_MAX * XATTR_NAME_MAX_LEN];
  ssize_t len = llistxattr(path, names, sizeof names);
  *count = 0;
  if (len < 0) return errno == ENOTSUP ? 0 : -1;
  for (ssize_t off = 0; off < len; off += (ssize_t)strlen(names + off) + 1) {
    if (*count == XATTR_MAX || strlen(names + off) >= XATTR_NAME_MAX_LEN) return -1;
    struct xattr_entry *e = &out[(*count)++];
    strcpy(e->name, names + off);
    e->len = lgetxattr(path, e->name, e->value, sizeof e->value);
    if (e->len < 0) return -1;
  }
  return 0;
}

/* Acts with the file access rights of a mount point's owner (root, or the
 * sandbox user for /sandbox): only an owner may set a file's mode, explicit
 * times and, on a sticky folder, its user attributes, and the supervisor
 * has no CAP_FOWNER to do it for others. */
static void act_as_owner(const struct stat *st) {
  if (setresgid(-1, st->st_gid, -1) != 0 || setresuid(-1, st->st_uid, -1) != 0) die_errno("act as owner");
}

/* Taken once, at start-up, before any program runs. /dev/mqueue is made
 * read-only for the sandbox user first: no program it runs needs POSIX
 * message queues (as owner, the supervisor may change the mode). */
static void record_fresh_state(void) {
  chmod("/dev/mqueue", 0755);
  for (size_t i = 0; i < WRITABLE_COUNT; i++) {
    struct mount_record *r = &fresh_mounts[i];
    if (lstat(WRITABLE[i], &r->st) != 0) continue;
    r->present = 1;
    act_as_owner(&r->st);
    r->valid = read_xattrs(WRITABLE[i], r->xattrs, &r->xattr_count) == 0;
    become_root_effective();
  }
  fresh_memory = charged_memory_bytes();
}

static const struct xattr_entry *find_xattr(const struct xattr_entry *list, int count, const char *name) {
  for (int i = 0; i < count; i++)
    if (strcmp(list[i].name, name) == 0) return &list[i];
  return NULL;
}

/* Puts a mount point's attributes, mode and times back as recorded. Errors
 * are left to verify_mount() to find. */
static void restore_mount(const char *path, const struct mount_record *r) {
  act_as_owner(&r->st);
  struct xattr_entry now[XATTR_MAX];
  int count;
  /* More attributes than a record holds: remove them in rounds. */
  for (int round = 0; round < 64; round++) {
    int complete = read_xattrs(path, now, &count) == 0;
    int removed = 0;
    for (int i = 0; i < count; i++)
      if (!find_xattr(r->xattrs, r->xattr_count, now[i].name)) removed += lremovexattr(path, now[i].name) == 0;
    if (complete || !removed) break;
  }
  for (int i = 0; i < r->xattr_count; i++) {
    const struct xattr_entry *e = &r->xattrs[i];
    const struct xattr_entry *cur = find_xattr(now, count, e->name);
    if (!cur || cur->len != e->len || memcmp(cur->value, e->value, (size_t)e->len) != 0)
      lsetxattr(path, e->name, e->value, (size_t)e->len, 0);
  }
  /* After the attributes: removing an ACL may change the mode. */
  chmod(path, r->st.st_mode & 07777);
  struct timespec times[2] = {r->st.st_atim, r->st.st_mtim};
  utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
  become_root_effective();
}

static int same_time(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

/* 0 if a mount point is as recorded: owner, mode, times, attributes. */
static int verify_mount(const char *path, const struct mount_record *r) {
  struct stat st;
  if (!r->valid || lstat(path, &st) != 0) return -1;
  if (st.st_uid != r->st.st_uid || st.st_gid != r->st.st_gid || st.st_mode != r->st.st_mode ||
      st.st_dev != r->st.st_dev || st.st_ino != r->st.st_ino || !same_time(st.st_atim, r->st.st_atim) ||
      !same_time(st.st_mtim, r->st.st_mtim))
    return -1;
  struct xattr_entry now[XATTR_MAX];
  int count;
  act_as_owner(&r->st);
  int readable = read_xattrs(path, now, &count) == 0;
  become_root_effective();
  if (!readable || count != r->xattr_count) return -1;
  for (int i = 0; i < count; i++) {
    const struct xattr_entry *e = find_xattr(r->xattrs, r->xattr_count, now[i].name);
    if (!e || e->len != now[i].len || memcmp(e->value, now[i].value, (size_t)e->len) != 0) return -1;
  }
  return 0;
}

/* The kernel's lists of SysV IPC objects of this container's IPC namespace
 * (Docker gives each container its own): a header line, then one object a
 * line, its id in the second column. */
static const char *const SYSV_LISTS[] = {"/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"};

/* Removes every object in one list (as its creator, the sandbox user: no
 * other user in the container makes any); returns how many were listed, or
 * -1 if the list cannot be read. A segment still attached is destroyed
 * when the last process detaches, and none is left alive by now. */
static int remove_sysv_objects(int kind) {
  FILE *f = fopen(SYSV_LISTS[kind], "r");
  if (!f) return -1;
  char line[512];
  int listed = 0;
  if (fgets(line, sizeof line, f)) {
    while (fgets(line, sizeof line, f)) {
      long long key;
      int id;
      if (sscanf(line, "%lld %d", &key, &id) != 2) continue;
      listed++;
      if (kind == 0) shmctl(id, IPC_RMID, NULL);
      else if (kind == 1) msgctl(id, IPC_RMID, NULL);
      else semctl(id, 0, IPC_RMID);
    }
  }
  fclose(f);
  return listed;
}

/* Removes every SysV shared memory segment, message queue and semaphore
 * set; 0 once none is left. */
static int remove_ipc_objects(void) {
  int left = 0;
  for (int kind = 0; kind < 3; kind++) {
    become_sandbox_effective();
    int listed = remove_sysv_objects(kind);
    become_root_effective();
    if (listed < 0) return -1; /* cannot see them, so cannot say they are gone */
    if (listed > 0) left |= remove_sysv_objects(kind) != 0; /* listed again: still there */
  }
  return left ? -1 : 0;
}

/* Gives memory the supervisor holds for finished requests back to the
 * kernel, so that what is charged to the container is its idle baseline. */
static void trim_own_memory(void) {
  size_t keep = in_len > 4 * CHUNK ? in_len : 4 * CHUNK;
  if (in_cap > keep) {
    unsigned char *smaller = realloc(in_buf, keep);
    if (smaller) {
      in_buf = smaller;
      in_cap = keep;
    }
  }
  malloc_trim(0);
}

/* 0 once the memory charged to the container is back within a few MB of
 * its baseline. Freeing can lag a moment behind the last process's exit
 * (the forwarder closing connections its clients dropped), so it is read
 * a few times before the wipe is declared failed. */
static int verify_memory(void) {
  if (fresh_memory < 0) return -1;
  for (int tries = 0; tries < 100; tries++) {
    long long now = charged_memory_bytes();
    if (now < 0) return -1;
    if (now <= fresh_memory + MEMORY_SLACK_BYTES) return 0;
    usleep(2000);
  }
  return -1;
}

/* Empties every writable place: as the sandbox user (the owner of all it
 * made), then what is left as root, owner of the other mount points. */
static int empty_writable_places(void) {
  int left = 1;
  for (int as_root = 0; as_root < 2 && left; as_root++) {
    if (!as_root) become_sandbox_effective();
    /* Folders without search permission hide their contents from one pass. */
    for (int pass = 0; pass < 8 && left; pass++) {
      left = 0;
      for (size_t i = 0; i < WRITABLE_COUNT; i++) {
        if (!fresh_mounts[i].present) continue;
        nftw(WRITABLE[i], make_traversable, 32, FTW_PHYS);
        nftw(WRITABLE[i], remove_entry, 32, FTW_PHYS | FTW_DEPTH);
        left |= !dir_is_empty(WRITABLE[i]); /* as the sandbox user: /sandbox is 0700 */
      }
    }
    if (!as_root) become_root_effective();
  }
  return left ? -1 : 0;
}

/* Puts the image's /sandbox files (see sandbox-seed.c) into the empty
 * /sandbox, as the sandbox user, whose files they are. */
static int put_sandbox_seed(void) {
  become_sandbox_effective();
  int copied = sandbox_seed_copy();
  int saved = errno;
  become_root_effective();
  errno = saved;
  return copied;
}

/* Returns the container to the state it started in, for everything a
 * program can make: processes, files and folders in every writable place,
 * the mount points' metadata, SysV IPC objects (POSIX ones live in
 * /dev/shm and /dev/mqueue), and the memory they held. Then checks each of
 * these; anything it cannot check counts as dirty. */
static int wipe(void) {
  kill_sandbox_processes();
  int dummy_status;
  struct rusage dummy_usage;
  for (int tries = 0; tries < 50; tries++) {
    reap_all(-1, &dummy_status, &dummy_usage);
    if (count_sandbox_processes() == 0) break;
    kill_sandbox_processes();
    usleep(2000);
  }
  if (count_sandbox_processes() != 0) return -1;
  int dirty = remove_ipc_objects() != 0;
  dirty |= empty_writable_places() != 0;
  dirty |= put_sandbox_seed() != 0; /* an image's /sandbox files are part of "fresh" */
  /* Emptying a folder changes its times: restored after, and checked by
   * stat() alone (reading a folder may change its access time). */
  for (size_t i = 0; i < WRITABLE_COUNT; i++)
    if (fresh_mounts[i].present) restore_mount(WRITABLE[i], &fresh_mounts[i]);
  for (size_t i = 0; i < WRITABLE_COUNT; i++)
    if (fresh_mounts[i].present) dirty |= verify_mount(WRITABLE[i], &fresh_mounts[i]) != 0;
  trim_own_memory();
  dirty |= verify_memory() != 0;
  /* Nothing restarts a dead forwarder (its port may already be someone
   * else's): a container without one is not fit for another run. */
  return dirty || egress_pid < 0 ? -1 : 0;
}

/* ---------- the egress forwarder (filtered network) ---------- */

/* Started before the hello (see egress-forwarder.c): no program runs
 * before its port is taken, and a sandbox that cannot have it fails. */
static void egress_start(void) {
  const char *failed = "egress forwarder";
  pid_t pid = egress_forwarder_start(&failed);
  if (pid < 0) die_errno(failed);
  egress_pid = pid;
}

/* ---------- channel input ---------- */

int channel_open = 1;
int linger;

/* The engine went away. Unless asked to linger, so does the container. */
void channel_closed(void) {
  channel_open = 0;
  if (!linger) leave(0);
}

void channel_read(void) {
  if (in_cap - in_len < CHUNK) {
    size_t cap = in_cap ? in_cap * 2 : 4 * CHUNK;
    while (cap - in_len < CHUNK) cap *= 2;
    unsigned char *grown = realloc(in_buf, cap);
    if (!grown) fatal("%s", "out of memory reading request");
    in_buf = grown;
    in_cap = cap;
  }
  ssize_t n = read(STDIN_FILENO, in_buf + in_len, in_cap - in_len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    channel_closed();
    return;
  }
  in_len += (size_t)n;
}

/* Returns a complete frame at the head of the buffer, or 0. */
int channel_next(char *type, unsigned char **payload, uint32_t *len) {
  if (in_len < 5) return 0;
  uint32_t flen = be32(in_buf + 1);
  if (flen > MAX_FRAME) fatal("%s", "frame too large");
  if (in_len < 5 + (size_t)flen) return 0;
  *type = (char)in_buf[0];
  *payload = in_buf + 5;
  *len = flen;
  return 1;
}

void channel_consume(uint32_t len) {
  size_t total = 5 + (size_t)len;
  memmove(in_buf, in_buf + total, in_len - total);
  in_len -= total;
}

/* ---------- one run ---------- */

struct stream {
  int fd;
  char type;
  long long sent;
  int truncated;
};

static void pump(struct stream *s, long long limit) {
  char buf[CHUNK];
  ssize_t n = read(s->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close(s->fd);
    s->fd = -1;
    return;
  }
  long long room = limit - s->sent;
  if (room <= 0) {
    s->truncated = 1; /* keep draining so the program is never blocked on a full pipe */
    return;
  }
  uint32_t take = n > room ? (uint32_t)room : (uint32_t)n;
  if (take < (uint32_t)n) s->truncated = 1;
  send_frame(s->type, buf, take);
  s->sent += take;
}

/* A 'P' frame: replaces the prestart request (its child starts when the supervisor is next idle). */
static void prestart_set(const unsigned char *payload, uint32_t len) {
  free(pre.frame);
  pre.frame = malloc(len + 1);
  if (!pre.frame) fatal("%s", "out of memory for prestart request");
  memcpy(pre.frame, payload, len);
  const char *problem = parse_launch(pre.frame, len, &pre.launch);
  if (problem) fatal("bad prestart request: %s", problem);
}

/* CPU time (user and system) a process has used so far, in microseconds. */
long long process_cpu_us(pid_t pid) {
  clockid_t clock;
  struct timespec ts;
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) return 0;
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* What goes down a prestarted child's fd 3: NUL-terminated "a<arg>", "e<K=V>", "w<dir>". */
static char *launch_message(const struct launch *l, size_t *len) {
  const char *workdir = l->workdir ? l->workdir : "/sandbox";
  size_t total = strlen(workdir) + 2;
  for (int i = 0; i < l->argc; i++) total += strlen(l->argv[i]) + 2;
  for (int i = 0; i < l->envc; i++) total += strlen(l->envp[i]) + 2;
  char *msg = malloc(total);
  if (!msg) fatal("%s", "out of memory for a request");
  char *p = msg;
  for (int i = 0; i < l->argc; i++) p += sprintf(p, "a%s", l->argv[i]) + 1;
  for (int i = 0; i < l->envc; i++) p += sprintf(p, "e%s", l->envp[i]) + 1;
  p += sprintf(p, "w%s", workdir) + 1;
  *len = (size_t)(p - msg);
  return msg;
}

/* Whether this run goes to the prestarted child: it may ('p'), one is alive,
 * it runs the bootstrap's interpreter on a file (the bootstrap emulates
 * `interpreter file args...`), and its files are in place - written here as
 * the sandbox user. Any file problem leaves the run to the cold path, which
 * writes them again and reports the failure as it always does. */
static int prestart_takes(struct run_request *req) {
  if (!req->may_prestart || pre.pid <= 0) return 0;
  siginfo_t info = {0};
  if (waitid(P_PID, (id_t)pre.pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0)
    return 0; /* it died (not reaped yet): not the program's exit to report */
  if (req->l.argc < 2 || req->l.argv[1][0] == '-' || strcmp(req->l.argv[0], pre.launch.argv[0]) != 0) return 0;
  for (int i = 0; i < req->filec; i++)
    if (req->files[i].append) return 0; /* not safe to write twice */
  const char *what, *path;
  become_sandbox_effective();
  /* Never blocks: a FIFO a persistent session left at a file's path fails
   * here (and blocks the cold path's child, as it always did, not us). */
  int placed = place_files(req, O_NONBLOCK, &what, &path);
  if (placed == 0) placed = make_workdir(req->l.workdir);
  become_root_effective();
  return placed == 0;
}

static void do_run(unsigned char *payload, uint32_t len, int sigfd) {
  /* The request is copied out of the channel buffer, which keeps moving. */
  unsigned char *frame = malloc(len + 1);
  if (!frame) fatal("%s", "out of memory for run request");
  memcpy(frame, payload, len);
  channel_consume(len);

  static struct run_request req;
  const char *problem = parse_run(frame, len, &req);
  if (problem) fatal("bad run request: %s", problem);

  long long oom_before = oom_kill_count();
  int64_t started = now_us();
  pid_t child;
  int stdin_fd, out_fd, err_fd;
  int ctl_fd = -1; /* the prestarted child's fd 3, until the request is through */
  char *ctl = NULL;
  size_t ctl_len = 0, ctl_off = 0;
  long long cpu_before_us = 0; /* what the prestarted child spent starting up */
  if (prestart_takes(&req)) {
    child = pre.pid;
    stdin_fd = pre.in_fd;
    out_fd = pre.out_fd;
    err_fd = pre.err_fd;
    ctl_fd = pre.ctl_fd;
    pre.in_fd = pre.out_fd = pre.err_fd = pre.ctl_fd = -1;
    prestart_forget();
    cpu_before_us = process_cpu_us(child);
    ctl = launch_message(&req.l, &ctl_len);
    set_nonblock(ctl_fd);
  } else {
    prestart_discard();
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) die_errno("pipe");
    child = fork();
    if (child < 0) die_errno("fork");
    if (child == 0) run_child(&req, in_pipe[0], out_pipe[1], err_pipe[1]);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    stdin_fd = in_pipe[1];
    out_fd = out_pipe[0];
    err_fd = err_pipe[0];
  }
  free(frame);

  set_nonblock(stdin_fd);
  set_nonblock(out_fd);
  set_nonblock(err_fd);
  unsigned char *pending = NULL; /* stdin bytes the program has not read yet */
  size_t pending_len = 0, pending_off = 0;
  int stdin_eof = 0;

  struct stream out = {out_fd, '1', 0, 0}, err = {err_fd, '2', 0, 0};
  int64_t deadline = req.timeout_ms > 0 ? started + req.timeout_ms * 1000 : 0;
  int exited = 0, timed_out = 0, status = 0;
  struct rusage usage;
  memset(&usage, 0, sizeof usage);

  while (!exited || out.fd >= 0 || err.fd >= 0) {
    char type;
    unsigned char *data;
    uint32_t dlen;
    while (pending_len == pending_off && channel_next(&type, &data, &dlen)) {
      if (type == 'R' || type == 'W') break; /* for after this run */
      if (type == 'I' && (stdin_fd < 0 || stdin_eof)) {
        /* Input after its end has nowhere to go: dropped, never left blocking the channel. */
        send_taken(dlen);
      } else if (type == 'I') {
        free(pending);
        pending = malloc(dlen ? dlen : 1);
        if (!pending) fatal("%s", "out of memory for stdin");
        memcpy(pending, data, dlen);
        pending_len = dlen;
        pending_off = 0;
      } else if (type == 'E') {
        stdin_eof = 1;
      } else if (type == 'K') {
        char sig[16] = {0};
        memcpy(sig, data, dlen < 15 ? dlen : 15);
        become_sandbox_effective();
        /* Before the child's setsid() its group does not exist yet: signal the child itself. */
        if (kill(-child, atoi(sig)) != 0 && errno == ESRCH) kill(child, atoi(sig));
        become_root_effective();
      } else if (type == 'A') {
        char sig[16] = {0};
        memcpy(sig, data, dlen < 15 ? dlen : 15);
        /* Under the task list lock, like the wipe's SIGKILL: no process of the
         * user can fork its way past it. The forwarder (uid 101) is not hit. */
        become_sandbox_effective();
        kill(-1, atoi(sig));
        become_root_effective();
        send_frame('S', "", 0);
      } else if (type == 'Q') {
        leave(0);
      } else if (type == 'P') {
        prestart_set(data, dlen); /* started once this run is over */
      } else {
        fatal("unexpected frame during a run: %s", (char[]){type, 0});
      }
      channel_consume(dlen);
    }
    if (stdin_eof && stdin_fd >= 0 && pending_len == pending_off) {
      close(stdin_fd);
      stdin_fd = -1;
    }
    if (ctl_fd >= 0 && ctl_off < ctl_len) {
      ssize_t n = write(ctl_fd, ctl + ctl_off, ctl_len - ctl_off);
      if (n > 0) ctl_off += (size_t)n;
      if (n < 0 && errno != EAGAIN && errno != EINTR) ctl_off = ctl_len; /* the child is gone */
    }
    if (ctl_fd >= 0 && ctl_off == ctl_len) close_fd(&ctl_fd); /* end of the request */
    struct pollfd fds[6];
    int nfds = 0;
    int i_chan = -1, i_out = -1, i_err = -1, i_in = -1, i_sig;
    fds[nfds] = (struct pollfd){sigfd, POLLIN, 0};
    i_sig = nfds++;
    /* While the program has input left to take, its frames wait in the read
     * buffer; reading on (as far as CHANNEL_READ_AHEAD, more than the engine
     * sends unanswered) lets the supervisor see the channel's end even then:
     * Docker closes it only once it has written all it holds. Past that, only
     * a hang-up is watched (POLLHUP for a pipe, POLLRDHUP for a socket). */
    int i_hup = -1;
    if (channel_open && (pending_len == pending_off || in_len < CHANNEL_READ_AHEAD)) {
      fds[nfds] = (struct pollfd){STDIN_FILENO, POLLIN, 0};
      i_chan = nfds++;
    } else if (channel_open) {
      fds[nfds] = (struct pollfd){STDIN_FILENO, POLLRDHUP, 0};
      i_hup = nfds++;
    }
    if (out.fd >= 0) {
      fds[nfds] = (struct pollfd){out.fd, POLLIN, 0};
      i_out = nfds++;
    }
    if (err.fd >= 0) {
      fds[nfds] = (struct pollfd){err.fd, POLLIN, 0};
      i_err = nfds++;
    }
    if (stdin_fd >= 0 && pending_len > pending_off) {
      fds[nfds] = (struct pollfd){stdin_fd, POLLOUT, 0};
      i_in = nfds++;
    }
    if (ctl_fd >= 0) fds[nfds++] = (struct pollfd){ctl_fd, POLLOUT, 0}; /* written at the loop's top */
    int wait_ms = -1;
    if (deadline && !timed_out) {
      int64_t left = deadline - now_us();
      wait_ms = left <= 0 ? 0 : (int)((left + 999) / 1000);
    }
    int ready = poll(fds, (nfds_t)nfds, wait_ms);
    if (ready < 0 && errno != EINTR) die_errno("poll");

    if (deadline && !timed_out && now_us() >= deadline) {
      timed_out = 1;
      kill_sandbox_processes();
    }
    if (ready <= 0) continue;

    if (fds[i_sig].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) == sizeof info) {
      }
      if (reap_all(child, &status, &usage) && !exited) {
        exited = 1;
        /* The program is done: whatever it left running goes with it, and
         * the output pipes reach end-of-file once the last writer is dead. */
        kill_sandbox_processes();
      }
    }
    if (i_out >= 0 && fds[i_out].revents) pump(&out, req.output_limit);
    if (i_err >= 0 && fds[i_err].revents) pump(&err, req.output_limit);
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t n = write(stdin_fd, pending + pending_off, pending_len - pending_off);
      if (n > 0) pending_off += (size_t)n;
      if (n < 0 && errno != EAGAIN && errno != EINTR) pending_off = pending_len; /* reader gone */
      if (pending_off == pending_len) {
        send_taken(pending_len);
        pending_len = pending_off = 0;
      }
    }
    if (i_chan >= 0 && fds[i_chan].revents) {
      channel_read();
    }
    if (i_hup >= 0 && fds[i_hup].revents & (POLLHUP | POLLRDHUP | POLLERR)) channel_closed();
  }
  if (stdin_fd >= 0) close(stdin_fd);
  close_fd(&ctl_fd);
  free(ctl);
  free(pending);

  int64_t wall = now_us() - started;
  long long oom_after = oom_kill_count();
  int oom_killed = oom_before >= 0 && oom_after > oom_before;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  int signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  long long cpu_us = (long long)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec +
                     (long long)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
  cpu_us = cpu_us > cpu_before_us ? cpu_us - cpu_before_us : 0;
  send_text('X',
            "exit=%d\nsignal=%d\ntimeout=%d\noom=%d\nstdout_truncated=%d\nstderr_truncated=%d\n"
            "cpu_us=%lld\nmax_rss_kb=%ld\npeak_bytes=%lld\nwall_us=%lld\n",
            code, signo, timed_out, oom_killed, out.truncated, err.truncated, cpu_us, usage.ru_maxrss,
            peak_memory_bytes(), (long long)wall);
}

int main(void) {
  prctl(PR_SET_DUMPABLE, 0);
  signal(SIGPIPE, SIG_IGN);
  umask(022); /* as the children's: files placed for a prestarted child get the same modes */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) die_errno("signalfd");
  if (getuid() != 0) fatal("%s", "the supervisor must start as root (it drops to uid 100 for every program)");

  /* Large buffers (a run's files arrive in frames of up to 96 MB) are
   * mapped on their own and unmapped when freed, not kept in the heap. */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  egress_start(); /* before the hello: no program runs before the port is taken */
  if (put_sandbox_seed() != 0) die_errno("copy the image's /sandbox files");
  record_fresh_state(); /* with the forwarder and the seed: part of the idle baseline */
  send_frame('H', VERSION, sizeof VERSION - 1);
  for (;;) {
    char type;
    unsigned char *payload;
    uint32_t len;
    while (channel_next(&type, &payload, &len)) {
      switch (type) {
      case 'R':
        pre.due = 0;
        do_run(payload, len, sigfd);
        if (pre.frame) pre.due = now_us() + PRESTART_GRACE_US;
        continue; /* do_run consumed the frame */
      case 'P':
        prestart_discard();
        prestart_set(payload, len);
        prestart_start();
        break;
      case 'W': {
        pre.due = 0;
        int clean = wipe() == 0;
        prestart_forget(); /* killed by the wipe, though maybe not reaped yet */
        send_frame(clean ? 'C' : 'D', "", 0);
        if (clean) prestart_start();
        break;
      }
      case 'N':
      case 'B':
        processes_loop(type, payload, len, sigfd); /* a long-lived sandbox from now on */
      case 'L':
        linger = 1;
        break;
      case 'Q':
        leave(0);
      case 'A':
        send_frame('S', "", 0); /* nothing of the run is left to signal */
        break;
      case 'I':
      case 'E':
      case 'K':
        break; /* stragglers for a run that already ended */
      default:
        fatal("unexpected frame: %s", (char[]){type, 0});
      }
      channel_consume(len);
    }
    int wait_ms = -1;
    if (pre.due) {
      int64_t left = pre.due - now_us();
      if (left <= 0) {
        prestart_start();
      } else {
        wait_ms = (int)((left + 999) / 1000);
      }
    }
    struct pollfd fds[2] = {{sigfd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (poll(fds, channel_open ? 2 : 1, wait_ms) < 0 && errno != EINTR) die_errno("poll");
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) == sizeof info) {
      }
      int st;
      struct rusage ru;
      reap_all(-1, &st, &ru);
    }
    if (channel_open && fds[1].revents) channel_read();
  }
}
