/*
 * A long-lived sandbox: many processes at once, each on pipes or on a
 * pseudo-terminal, multiplexed over the supervisor's one channel.
 *
 * The first 'N' frame (or file request 'B', see files.c) brings the
 * supervisor here for good: such a container is never wiped or reused for
 * one-off runs. Every frame of this
 * part names its process by the engine's 32-bit id (big-endian, first four
 * bytes of the payload); see supervisor.c's header for the frames.
 *
 * Flow control, so that no stream can crowd out another and nothing grows
 * without bound: a process's output is read only while fewer than
 * OUTPUT_WINDOW of its bytes are unanswered by the engine's 'U' credits
 * (past that, the process blocks on its full pipe), and it is sent in
 * chunks of at most CHUNK bytes, round-robin over the ready streams. The
 * engine keeps each process's unanswered stdin under its own window, so
 * the channel is always read to its end and a keystroke never waits
 * behind another process's transfer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "supervisor.h"

#define MAX_PROCS 1024
#define OUTPUT_WINDOW (256 * 1024)
/* The engine keeps at most 256 KiB of a process's stdin unanswered; a
 * process with more pending than this means the engine broke its word. */
#define STDIN_PENDING_LIMIT (1024 * 1024)

struct proc {
  uint32_t id; /* 0: a free slot */
  pid_t pid;
  int pty;            /* the output fd is a terminal's master, and input goes to it too */
  int in_fd;          /* stdin's write end, or the master; -1 once closed */
  int out_fd, err_fd; /* -1 once drained */
  unsigned char *pending; /* stdin bytes not yet written */
  size_t pending_len, pending_off;
  int stdin_ending; /* 'F' arrived: close once pending is written */
  long long unanswered; /* output bytes sent and not yet credited */
  int64_t started, deadline;
  int exited, timed_out, status;
  struct rusage usage;
};

static struct proc procs[MAX_PROCS];

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static struct proc *find_proc(uint32_t id) {
  if (id == 0) return NULL;
  for (int i = 0; i < MAX_PROCS; i++)
    if (procs[i].id == id) return &procs[i];
  return NULL;
}

/* 'n': the process started (pid > 0), or could not (pid 0 and why). */
static void send_started(uint32_t id, pid_t pid, const char *problem) {
  unsigned char msg[8 + 256];
  put_be32(msg, id);
  put_be32(msg + 4, (uint32_t)(pid > 0 ? pid : 0));
  size_t n = problem ? strlen(problem) : 0;
  if (n > 256) n = 256;
  if (n) memcpy(msg + 8, problem, n);
  send_frame('n', msg, (uint32_t)(8 + n));
}

static void send_taken_by(uint32_t id, size_t n) {
  unsigned char msg[8];
  put_be32(msg, id);
  put_be32(msg + 4, (uint32_t)n);
  send_frame('j', msg, 8);
}

/* Signals a process's group as the sandbox user (never as root: a process
 * cannot be made to hit what the sandbox could not); before the child's
 * setsid() its group does not exist yet, so then the child itself. */
static void signal_group(pid_t pid, int sig) {
  become_sandbox_effective();
  if (kill(-pid, sig) != 0 && errno == ESRCH) kill(pid, sig);
  become_root_effective();
}

/* SIGWINCH to the terminal's foreground group, sent here because gVisor's
 * terminals do not send it on a resize (Linux's do: the program then sees
 * two, which is harmless). Without a foreground group, every process of
 * the terminal's session, found through /proc. */
static void send_winch(const struct proc *p) {
  pid_t group = tcgetpgrp(p->in_fd);
  if (group > 0) {
    signal_group(group, SIGWINCH);
    return;
  }
  DIR *proc = opendir("/proc");
  if (!proc) return;
  struct dirent *entry;
  become_sandbox_effective();
  while ((entry = readdir(proc)) != NULL) {
    pid_t pid = (pid_t)atoi(entry->d_name);
    if (pid > 1 && getsid(pid) == p->pid) kill(pid, SIGWINCH);
  }
  become_root_effective();
  closedir(proc);
}

static int parse_size(const char *text, struct winsize *ws) {
  unsigned cols = 0, rows = 0;
  if (sscanf(text, "%u %u", &cols, &rows) != 2 || cols == 0 || rows == 0 || cols > 65535 || rows > 65535)
    return -1;
  memset(ws, 0, sizeof *ws);
  ws->ws_col = (unsigned short)cols;
  ws->ws_row = (unsigned short)rows;
  return 0;
}

/* Opens a terminal as the sandbox user, so its slave is the sandbox
 * user's (devpts gives it to whoever opened /dev/ptmx); returns the master
 * and the slave's path in `name`. */
static int open_terminal(char *name, size_t size, const struct winsize *ws) {
  become_sandbox_effective();
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  int ok = master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0 && ptsname_r(master, name, size) == 0;
  become_root_effective();
  if (!ok) {
    if (master >= 0) close(master);
    return -1;
  }
  ioctl(master, TIOCSWINSZ, ws);
  return master;
}

/* In the child: the terminal becomes its controlling terminal and its stdio. */
static _Noreturn void start_on_terminal(const char *name, struct launch *l) {
  /* The slave is the sandbox user's, mode 0620: root without CAP_DAC_OVERRIDE
   * cannot open it, its owner can. */
  become_sandbox_effective();
  int slave = open(name, O_RDWR | O_NOCTTY);
  become_root_effective();
  if (slave < 0) child_fail("cannot open terminal", name);
  enter_sandbox(slave, slave, slave, -1);
  if (ioctl(0, TIOCSCTTY, 0) != 0) child_fail("cannot take terminal", name);
  if (make_workdir(l->workdir) != 0) child_fail("cannot create working directory", l->workdir);
  exec_launch(l);
}

static _Noreturn void start_on_pipes(int in_fd, int out_fd, int err_fd, struct launch *l) {
  enter_sandbox(in_fd, out_fd, err_fd, -1);
  if (make_workdir(l->workdir) != 0) child_fail("cannot create working directory", l->workdir);
  exec_launch(l);
}

/* 'N': id, then fields 'a', 'e', 'w' (as for a run), 't' timeout in ms
 * (decimal; 0 or absent: none), 'y' "cols rows" to run on a terminal. */
static void proc_start(const unsigned char *payload, uint32_t len) {
  if (len < 4) fatal("%s", "process request without an id");
  uint32_t id = be32(payload);
  unsigned char *fields = malloc(len - 4 + 1);
  if (!fields) fatal("%s", "out of memory for a process request");
  memcpy(fields, payload + 4, len - 4);
  struct launch l;
  memset(&l, 0, sizeof l);
  long long timeout_ms = 0;
  struct winsize ws;
  int pty = 0;
  uint32_t off = 0, flen;
  unsigned char tag;
  char *value;
  const char *problem = NULL;
  int more;
  while (!problem && (more = next_field(fields, len - 4, &off, &tag, &value, &flen, &problem)) > 0) {
    if (launch_field(&l, tag, value, &problem)) continue;
    if (tag == 't') {
      timeout_ms = atoll(value);
    } else if (tag == 'y') {
      if (parse_size(value, &ws) != 0) problem = "bad terminal size";
      pty = 1;
    } else {
      problem = "unknown field";
    }
  }
  if (!problem && l.argc == 0) problem = "no program to run";
  if (problem) fatal("bad process request: %s", problem);
  if (id == 0 || find_proc(id)) fatal("%s", "process id in use");

  struct proc *p = NULL;
  for (int i = 0; !p && i < MAX_PROCS; i++)
    if (procs[i].id == 0) p = &procs[i];
  if (!p) {
    send_started(id, 0, "too many processes in this sandbox");
    free(fields);
    return;
  }

  pid_t pid;
  int fork_errno = 0;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  if (pty) {
    char name[128];
    int master = open_terminal(name, sizeof name, &ws);
    if (master < 0) {
      send_started(id, 0, strerror(errno));
      free(fields);
      return;
    }
    pid = fork();
    fork_errno = errno;
    if (pid == 0) start_on_terminal(name, &l);
    in_fd = out_fd = master;
    if (pid < 0) close(master);
  } else {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC))
      die_errno("pipe");
    pid = fork();
    fork_errno = errno;
    if (pid == 0) start_on_pipes(in_pipe[0], out_pipe[1], err_pipe[1], &l);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    in_fd = in_pipe[1];
    out_fd = out_pipe[0];
    err_fd = err_pipe[0];
    if (pid < 0) {
      close(in_fd);
      close(out_fd);
      close(err_fd);
    }
  }
  free(fields);
  if (pid < 0) {
    /* Most often the sandbox's process limit (EAGAIN): reported, never a hang. */
    send_started(id, 0, strerror(fork_errno));
    return;
  }
  set_nonblock(in_fd);
  set_nonblock(out_fd);
  if (err_fd >= 0) set_nonblock(err_fd);
  memset(p, 0, sizeof *p);
  p->id = id;
  p->pid = pid;
  p->pty = pty;
  p->in_fd = in_fd;
  p->out_fd = out_fd;
  p->err_fd = err_fd;
  p->started = now_us();
  p->deadline = timeout_ms > 0 ? p->started + timeout_ms * 1000 : 0;
  send_started(id, pid, NULL);
}

static void stdin_close(struct proc *p) {
  free(p->pending);
  p->pending = NULL;
  p->pending_len = p->pending_off = 0;
  if (p->pty) {
    p->in_fd = -1; /* the master stays open for output */
  } else {
    close_fd(&p->in_fd);
  }
}

/* 'J': stdin bytes for a process, kept until its pipe takes them. */
static void stdin_queue(struct proc *p, const unsigned char *data, uint32_t n) {
  if (p->in_fd < 0 || p->stdin_ending || p->exited) {
    send_taken_by(p->id, n); /* nowhere to go: dropped, and answered so the engine's window moves */
    return;
  }
  size_t left = p->pending_len - p->pending_off;
  if (left + n > STDIN_PENDING_LIMIT) fatal("%s", "a process's stdin is past its window");
  if (p->pending_off > 0) {
    memmove(p->pending, p->pending + p->pending_off, left);
    p->pending_len = left;
    p->pending_off = 0;
  }
  unsigned char *grown = realloc(p->pending, p->pending_len + n);
  if (!grown) fatal("%s", "out of memory for stdin");
  p->pending = grown;
  memcpy(p->pending + p->pending_len, data, n);
  p->pending_len += n;
}

static void stdin_write(struct proc *p) {
  ssize_t n = write(p->in_fd, p->pending + p->pending_off, p->pending_len - p->pending_off);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  size_t taken = n > 0 ? (size_t)n : p->pending_len - p->pending_off; /* reader gone: dropped */
  p->pending_off += taken;
  send_taken_by(p->id, taken);
  if (p->pending_off == p->pending_len) {
    p->pending_len = p->pending_off = 0;
    if (p->stdin_ending) stdin_close(p);
  }
}

/* Sends up to what the window allows of one stream; closes it at its end,
 * or, once the process has exited, as soon as it holds nothing more. */
static void output_read(struct proc *p, int *fd, char stream) {
  unsigned char buf[5 + CHUNK];
  long long room = OUTPUT_WINDOW - p->unanswered;
  if (room <= 0) return;
  size_t want = room < CHUNK ? (size_t)room : CHUNK;
  ssize_t n = read(*fd, buf + 5, want);
  if (n < 0 && errno == EINTR) return;
  if (n < 0 && errno == EAGAIN) {
    if (p->exited) goto done;
    return;
  }
  if (n <= 0) goto done; /* end of file, or EIO: a terminal nobody holds any more */
  put_be32(buf, p->id);
  buf[4] = (unsigned char)stream;
  send_frame('O', buf, (uint32_t)(5 + n));
  p->unanswered += n;
  return;
done:
  if (*fd == p->in_fd) p->in_fd = -1; /* a terminal: one fd for both ways */
  close_fd(fd);
}

/* 'x': how it ended, in the run report's "key=value" lines. */
static void proc_finish(struct proc *p) {
  if (p->in_fd >= 0) stdin_close(p);
  free(p->pending);
  int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
  int signo = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
  long long cpu_us = (long long)p->usage.ru_utime.tv_sec * 1000000 + p->usage.ru_utime.tv_usec +
                     (long long)p->usage.ru_stime.tv_sec * 1000000 + p->usage.ru_stime.tv_usec;
  unsigned char msg[4 + 256];
  put_be32(msg, p->id);
  int n = snprintf((char *)msg + 4, 256, "exit=%d\nsignal=%d\ntimeout=%d\ncpu_us=%lld\nmax_rss_kb=%ld\nwall_us=%lld\n",
                   code, signo, p->timed_out, cpu_us, p->usage.ru_maxrss, (long long)(now_us() - p->started));
  send_frame('x', msg, (uint32_t)(4 + (n > 0 && n < 256 ? n : 0)));
  memset(p, 0, sizeof *p);
  p->in_fd = p->out_fd = p->err_fd = -1;
}

static void reap(void) {
  for (;;) {
    int status;
    struct rusage usage;
    pid_t pid = wait4(-1, &status, WNOHANG, &usage);
    if (pid <= 0) return;
    note_reaped(pid);
    for (int i = 0; i < MAX_PROCS; i++) {
      struct proc *p = &procs[i];
      if (p->id == 0 || p->pid != pid || p->exited) continue;
      p->exited = 1;
      p->status = status;
      p->usage = usage;
      /* Its group goes with it; what escaped into a session of its own
       * lives on until the sandbox ends. */
      signal_group(pid, SIGKILL);
      if (!p->pty && p->in_fd >= 0) stdin_close(p);
      if (p->pty) {
        free(p->pending);
        p->pending = NULL;
        p->pending_len = p->pending_off = 0;
      }
    }
  }
}

static int id_frame(const unsigned char *payload, uint32_t len, struct proc **p) {
  if (len < 4) fatal("%s", "process frame without an id");
  *p = find_proc(be32(payload));
  return *p != NULL;
}

static void handle(char type, const unsigned char *data, uint32_t len) {
  struct proc *p = NULL;
  char text[32] = {0};
  switch (type) {
  case 'N':
    proc_start(data, len);
    return;
  case 'J':
    if (id_frame(data, len, &p)) stdin_queue(p, data + 4, len - 4);
    return;
  case 'F':
    if (id_frame(data, len, &p) && !p->exited) {
      p->stdin_ending = 1;
      if (p->pending_len == p->pending_off && p->in_fd >= 0) {
        if (p->pty) {
          /* A terminal has no end of input but the EOF character. */
          (void)!write(p->in_fd, "\x04", 1);
        } else {
          stdin_close(p);
        }
      }
    }
    return;
  case 'G':
    if (id_frame(data, len, &p) && !p->exited) {
      memcpy(text, data + 4, len - 4 < sizeof text - 1 ? len - 4 : sizeof text - 1);
      signal_group(p->pid, atoi(text));
    }
    return;
  case 'Y':
    if (id_frame(data, len, &p) && p->pty && !p->exited && p->in_fd >= 0) {
      struct winsize ws;
      memcpy(text, data + 4, len - 4 < sizeof text - 1 ? len - 4 : sizeof text - 1);
      if (parse_size(text, &ws) == 0 && ioctl(p->in_fd, TIOCSWINSZ, &ws) == 0) send_winch(p);
    }
    return;
  case 'U':
    if (len < 8) fatal("%s", "short credit frame");
    if (id_frame(data, len, &p)) {
      p->unanswered -= be32(data + 4);
      if (p->unanswered < 0) p->unanswered = 0;
    }
    return;
  case 'A':
    memcpy(text, data, len < sizeof text - 1 ? len : sizeof text - 1);
    become_sandbox_effective();
    kill(-1, atoi(text));
    become_root_effective();
    send_frame('S', "", 0);
    return;
  case 'W':
    send_frame('D', "", 0); /* a sandbox with processes is never wiped for reuse */
    return;
  case 'L':
    linger = 1;
    return;
  case 'Q':
    leave(0);
  default:
    if (files_frame(type, data, len)) return;
    fatal("unexpected frame in a sandbox with processes: %s", (char[]){type, 0});
  }
}

void processes_loop(char first_type, unsigned char *first, uint32_t len, int sigfd) {
  prestart_discard();
  for (int i = 0; i < MAX_PROCS; i++) procs[i].in_fd = procs[i].out_fd = procs[i].err_fd = -1;
  files_start();
  handle(first_type, first, len);
  channel_consume(len);
  static struct pollfd fds[2 + 3 * MAX_PROCS + FILES_POLL_FDS];
  static struct proc *owner[2 + 3 * MAX_PROCS];
  static char role[2 + 3 * MAX_PROCS];
  for (;;) {
    char type;
    unsigned char *data;
    uint32_t dlen;
    while (channel_next(&type, &data, &dlen)) {
      handle(type, data, dlen);
      channel_consume(dlen);
    }
    int64_t now = now_us();
    int wait_ms = -1;
    int nfds = 0;
    fds[nfds++] = (struct pollfd){sigfd, POLLIN, 0};
    if (channel_open) fds[nfds++] = (struct pollfd){STDIN_FILENO, POLLIN, 0};
    for (int i = 0; i < MAX_PROCS; i++) {
      struct proc *p = &procs[i];
      if (p->id == 0) continue;
      if (p->exited && p->out_fd < 0 && p->err_fd < 0) {
        proc_finish(p);
        continue;
      }
      if (p->deadline && !p->exited && !p->timed_out) {
        if (now >= p->deadline) {
          p->timed_out = 1;
          signal_group(p->pid, SIGKILL);
        } else {
          int left = (int)((p->deadline - now + 999) / 1000);
          if (wait_ms < 0 || left < wait_ms) wait_ms = left;
        }
      }
      int open_window = p->unanswered < OUTPUT_WINDOW;
      if (p->out_fd >= 0 && open_window) {
        owner[nfds] = p;
        role[nfds] = 'o';
        fds[nfds++] = (struct pollfd){p->out_fd, POLLIN, 0};
      }
      if (p->err_fd >= 0 && open_window) {
        owner[nfds] = p;
        role[nfds] = 'e';
        fds[nfds++] = (struct pollfd){p->err_fd, POLLIN, 0};
      }
      if (p->in_fd >= 0 && p->pending_len > p->pending_off) {
        owner[nfds] = p;
        role[nfds] = 'i';
        fds[nfds++] = (struct pollfd){p->in_fd, POLLOUT, 0};
      }
      /* An exited process's streams are read to what they hold now, without waiting. */
      if (p->exited && open_window) wait_ms = 0;
    }
    /* The files' fds go after the processes', which the loop below walks up to proc_fds. */
    int proc_fds = nfds;
    if (files_poll(fds, &nfds) == 0) wait_ms = 0;
    int ready = poll(fds, (nfds_t)nfds, wait_ms);
    if (ready < 0 && errno != EINTR) die_errno("poll");
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) == sizeof info) {
      }
      reap();
    }
    int first_proc = channel_open ? 2 : 1;
    for (int i = first_proc; i < proc_fds; i++) {
      struct proc *p = owner[i];
      if (p->id == 0) continue;
      int go = fds[i].revents != 0 || p->exited;
      if (!go) continue;
      if (role[i] == 'o' && p->out_fd >= 0) output_read(p, &p->out_fd, '1');
      if (role[i] == 'e' && p->err_fd >= 0) output_read(p, &p->err_fd, '2');
      if (role[i] == 'i' && p->in_fd >= 0 && p->pending_len > p->pending_off) stdin_write(p);
    }
    files_serve(fds);
    if (channel_open && fds[1].revents) channel_read();
  }
}
