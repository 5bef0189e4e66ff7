/*
 * The egress forwarder of a filtered sandbox, compiled into isol8-supervisor.
 *
 * Such a sandbox has only loopback, and the engine mounts a folder read-only
 * at /run/isol8 holding its egress proxy's unix socket, egress.sock (the
 * proxy enforces the allow/deny policy); programs are told to use
 * http://127.0.0.1:3128 as their proxy. When that socket is there at
 * start-up, the supervisor calls egress_forwarder_start() before its hello:
 * it binds 127.0.0.1:3128 and forks the forwarder, which relays every TCP
 * connection to that port, byte for byte and with half-closes, to a new
 * connection to the socket. The forwarder holds no descriptor of the
 * supervisor's, runs as uid 101 with no capabilities, non-dumpable, in a
 * session of its own: the sandbox user can neither signal nor trace it, and
 * the supervisor's wipe, which kills uid 100 only, leaves it alone. One
 * process, one poll loop (the pids limit is small), at most EGRESS_MAX_CONNS
 * connections and 2 x EGRESS_BUF bytes of buffer each. If it dies,
 * connections to the port are refused, and the supervisor's next wipe
 * reports the container dirty so that it is not reused.
 */
#define _GNU_SOURCE
#include "egress-forwarder.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define EGRESS_SOCKET "/run/isol8/egress.sock"
#define EGRESS_PORT 3128
#define EGRESS_UID 101
#define EGRESS_GID 101
#define EGRESS_BACKLOG 128
#define EGRESS_MAX_CONNS 128
/* Per direction of each connection: 4 MiB in all at the most, counted
 * against the sandbox's memory limit, and plenty to keep loopback busy. */
#define EGRESS_BUF 16384

/* One direction of a relayed connection: bytes read from `from` wait in
 * buf[off, len) to be written to `to`. */
struct relay_dir {
  int from, to;
  char *buf;
  size_t off, len;
  int eof;  /* `from` said end-of-file: no more to read */
  int shut; /* ... and all of it reached `to`, which was then shut for writing */
};

/* A program's TCP connection and the forwarder's unix connection for it. */
struct relay {
  int tcp, unx;
  char *buf; /* both directions' buffers, one mapping */
  struct relay_dir up, down; /* program to proxy, proxy to program */
  int tcp_slot, unx_slot;    /* their entries in this round's poll set, or -1 */
};

/* Moves what it can in one direction: reads if `readable` and there is
 * room, writes what is buffered if `writable` or something just arrived
 * (usually the other side has room, which saves a round of poll), and
 * passes an end-of-file on once everything before it is through, so a
 * client that shuts down writing still gets its reply. -1 on an error:
 * the caller drops the whole connection. */
static int relay_pump(struct relay_dir *d, int readable, int writable) {
  int arrived = 0;
  if (readable && !d->eof && d->len < EGRESS_BUF) {
    ssize_t n = recv(d->from, d->buf + d->len, EGRESS_BUF - d->len, 0);
    if (n > 0) {
      d->len += (size_t)n;
      arrived = 1;
    } else if (n == 0) {
      d->eof = 1;
    } else if (errno != EAGAIN && errno != EINTR) {
      return -1;
    }
  }
  if (d->off < d->len && (writable || arrived)) {
    ssize_t n = send(d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
    if (n > 0) {
      d->off += (size_t)n;
      if (d->off == d->len) d->off = d->len = 0;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return -1;
    }
  }
  if (d->eof && d->off == d->len && !d->shut) {
    if (shutdown(d->to, SHUT_WR) != 0) return -1;
    d->shut = 1;
  }
  return 0;
}

/* Pairs an accepted TCP connection with a new connection to the proxy.
 * The unix connect is non-blocking and, unlike TCP's, never in progress:
 * it succeeds at once or fails (no proxy, or its backlog is full), and
 * then the program's connection is closed rather than left hanging. */
static int relay_open(struct relay *c, int tcp) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = EGRESS_SOCKET};
  int unx = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (unx < 0) return -1;
  char *buf = MAP_FAILED;
  if (connect(unx, (struct sockaddr *)&addr, sizeof addr) == 0)
    buf = mmap(NULL, 2 * EGRESS_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    close(unx);
    return -1;
  }
  /* Relayed bytes go out as they come: Nagle would hold back a small write
   * while an earlier one is unacknowledged, and add that delay to each
   * exchange that crosses the forwarder. */
  int one = 1;
  setsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *c = (struct relay){
      .tcp = tcp,
      .unx = unx,
      .buf = buf,
      .up = {.from = tcp, .to = unx, .buf = buf},
      .down = {.from = unx, .to = tcp, .buf = buf + EGRESS_BUF},
  };
  return 0;
}

/* Buffers are mapped per connection, not malloc'ed, so that an idle
 * forwarder gives all of their memory back. */
static void relay_close(struct relay *c) {
  close(c->tcp);
  close(c->unx);
  munmap(c->buf, 2 * EGRESS_BUF);
}

static _Noreturn void egress_serve(int listen_fd) {
  static struct relay conns[EGRESS_MAX_CONNS];
  static struct pollfd fds[1 + 2 * EGRESS_MAX_CONNS];
  int count = 0; /* conns[0, count) are open */
  for (;;) {
    /* Each socket is polled only for what it can do next, so none of them
     * can keep poll returning (a socket whose both halves are closed
     * reports POLLHUP for as long as it is in the set). */
    nfds_t nfds = 0;
    fds[nfds++] = (struct pollfd){listen_fd, POLLIN, 0};
    for (int i = 0; i < count; i++) {
      struct relay *c = &conns[i];
      short tcp_events = 0, unx_events = 0;
      if (!c->up.eof && c->up.len < EGRESS_BUF) tcp_events |= POLLIN;
      if (c->up.off < c->up.len) unx_events |= POLLOUT;
      if (!c->down.eof && c->down.len < EGRESS_BUF) unx_events |= POLLIN;
      if (c->down.off < c->down.len) tcp_events |= POLLOUT;
      c->tcp_slot = c->unx_slot = -1;
      if (tcp_events) {
        c->tcp_slot = (int)nfds;
        fds[nfds++] = (struct pollfd){c->tcp, tcp_events, 0};
      }
      if (unx_events) {
        c->unx_slot = (int)nfds;
        fds[nfds++] = (struct pollfd){c->unx, unx_events, 0};
      }
    }
    if (poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }

    for (int i = 0; i < count;) {
      struct relay *c = &conns[i];
      short tcp_ready = c->tcp_slot >= 0 ? fds[c->tcp_slot].revents : 0;
      short unx_ready = c->unx_slot >= 0 ? fds[c->unx_slot].revents : 0;
      /* POLLERR and POLLHUP mean the next read or write will say what happened. */
      short in = POLLIN | POLLERR | POLLHUP, out = POLLOUT | POLLERR | POLLHUP;
      int failed = relay_pump(&c->up, tcp_ready & in, unx_ready & out) != 0 ||
                   relay_pump(&c->down, unx_ready & in, tcp_ready & out) != 0;
      if (failed || (c->up.shut && c->down.shut)) {
        relay_close(c);
        conns[i] = conns[--count]; /* the last one moves here, to be handled next */
        continue;
      }
      i++;
    }

    if (fds[0].revents) {
      for (;;) {
        int tcp = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (tcp < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          break; /* EAGAIN: none left waiting */
        }
        /* Over the limit, or no proxy: closed at once, never left waiting. */
        if (count == EGRESS_MAX_CONNS || relay_open(&conns[count], tcp) != 0) {
          close(tcp);
          continue;
        }
        count++;
      }
    }
  }
}

/* In the forked forwarder: the listening socket on fd 3, /dev/null on
 * 0-2 (nothing of the supervisor's channel, and a stray diagnostic cannot
 * land on a connection), every other descriptor closed, a session of its
 * own, and the same privilege drop as enter_sandbox() to a user of its
 * own, plus clearing every capability set by hand (no exec follows to have
 * a say). Any failure ends it: the port is then refused, which fails
 * closed. */
static _Noreturn void egress_child(int listen_fd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to handle, not a death */

  /* Both are copied above fd 9 first, so that no dup2() below can overwrite
   * the other's source, whatever numbers they had. */
  int null_fd = open("/dev/null", O_RDWR);
  int high_null = null_fd < 0 ? -1 : fcntl(null_fd, F_DUPFD, 10);
  int high_listen = fcntl(listen_fd, F_DUPFD, 10);
  if (high_null < 0 || high_listen < 0) _exit(127);
  if (dup2(high_null, 0) < 0 || dup2(high_null, 1) < 0 || dup2(high_null, 2) < 0 || dup2(high_listen, 3) < 0)
    _exit(127);
  close_range(4, ~0U, 0);
  setsid();
  if (chdir("/") != 0) _exit(127);

  for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (setgroups(0, NULL) != 0) _exit(127);
  if (setresgid(EGRESS_GID, EGRESS_GID, EGRESS_GID) != 0) _exit(127);
  if (setresuid(EGRESS_UID, EGRESS_UID, EGRESS_UID) != 0) _exit(127);
  /* Leaving uid 0 empties the permitted, effective and ambient sets, but
   * never the inheritable one. */
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &header, data) != 0) _exit(127);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0); /* after setresuid(), which may have reset it */

  /* Two descriptors per connection, plus a few. */
  struct rlimit files;
  rlim_t need = 2 * EGRESS_MAX_CONNS + 16;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < need) {
    files.rlim_cur = files.rlim_max < need ? files.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  egress_serve(3);
}

/* The port is bound and listening here, in the supervisor, before it says
 * hello - and so before any program can run and take it; the forwarder
 * needs no "ready" message, since connections that arrive while it is still
 * dropping its privileges wait in the backlog. The supervisor then closes
 * its copy: the port lives exactly as long as the forwarder. */
pid_t egress_forwarder_start(const char **failed) {
  struct stat st;
  if (lstat(EGRESS_SOCKET, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failed = "egress forwarder socket";
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {
      .sin_family = AF_INET,
      .sin_port = htons(EGRESS_PORT),
      .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
  };
  pid_t pid = -1;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    *failed = "egress forwarder bind 127.0.0.1:3128";
  else if (listen(fd, EGRESS_BACKLOG) != 0)
    *failed = "egress forwarder listen";
  else if ((pid = fork()) < 0)
    *failed = "fork egress forwarder";
  else if (pid == 0)
    egress_child(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return pid;
}
