/*
 * A long-lived sandbox's files (the engine's `sandbox.files`): read, write,
 * list, stat, make folders, move, remove and watch, served over the
 * supervisor's channel beside the processes of processes.c. See
 * supervisor.c's header for the frames ('B', 'M', 'V', 'b' in; 'f', 'd',
 * 'w', 'e' out).
 *
 * Who acts: every file operation runs with the sandbox user's effective
 * (and so filesystem) uid and gid, and no supplementary groups, so it can
 * do nothing the sandboxed code could not do itself.
 *
 * Where: only beneath /sandbox and /tmp (the "places"), each held open as
 * a directory fd. A path is resolved beneath its place's fd, never as a
 * string the kernel walks from /: with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) where the kernel has it, else (ENOSYS: older
 * kernels, gVisor of 2022) one component at a time with
 * openat(O_NOFOLLOW) from the directory fd reached so far. Either way the
 * check is the use: there is no moment between checking where a path
 * leads and opening it in which a swapped symlink could send it elsewhere.
 * Both resolvers follow the same symlinks: relative ones whose target stays
 * beneath the place; an absolute symlink, or a `..` that would climb out
 * of the place, is refused (ESCAPE). Special files (FIFOs, sockets,
 * devices) are refused for reading and writing: they are opened with
 * O_NONBLOCK, so a FIFO never blocks the supervisor, and checked with
 * fstat() before a byte moves.
 *
 * Flow: file bytes move in chunks of at most CHUNK. A read or a listing
 * sends while fewer than FILE_WINDOW of its bytes are unanswered by the
 * engine's 'V' credits; a write's chunks are written as they arrive and
 * answered by 'w', and the engine keeps its own FILE_WINDOW of them in
 * flight. Each turn of the loop moves at most one chunk per transfer, so a
 * 1 GB file never delays a terminal's keystroke by more than that, and
 * neither side holds more than a window of it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "supervisor.h"

/* Bytes of a read or a listing sent and not yet credited, at most. */
#define FILE_WINDOW (256 * 1024)
#define MAX_TRANSFERS 256
/* Folders all watches of the sandbox may hold at once (each an inotify
 * watch and an fd): a tree larger than this ends its watch with an error. */
#define MAX_MARKS 4096
#define MAX_LINKS 40
/* Folders below a listing's or a removal's top it descends into, at most. */
#define WALK_DEPTH 256
/* Longest path, relative to its place, an operation takes or a listing reports. */
#define REL_MAX 16384
/* Work one removal does per turn of the loop. */
#define REMOVE_STEP 256

enum { PLACE_SANDBOX, PLACE_TMP, PLACES };
static const char *const PLACE_NAMES[PLACES] = {"/sandbox", "/tmp"};
static int place_fd[PLACES] = {-1, -1};
static int openat2_missing; /* see files_start() */
static int root_dir_fd = -1; /* "/", to go back to after a watch's fchdir */
static int inotify_fd = -1;
static int inotify_poll_slot = -1;

/* A folder being listed or removed, one open directory per level. */
struct walk {
  int depth;
  DIR *dir[WALK_DEPTH];
  size_t rel_len[WALK_DEPTH]; /* length of `rel` for this level's folder */
  char name[WALK_DEPTH][NAME_MAX + 1];
  int top_parent; /* removal: the fd the top folder is named in */
  char rel[REL_MAX + NAME_MAX + 2];
};

struct transfer {
  uint32_t id; /* 0: a free slot */
  char kind;   /* 'r' read, 'w' write, 'l' list, 'x' remove, 'v' watch */
  int fd;      /* read, write: the file */
  long long unanswered;
  int max_depth;
  int recursive;
  int root;       /* watch: the place's fd */
  char *top_rel;  /* watch: the watched folder, relative to its place */
  struct walk *walk;
};

static struct transfer transfers[MAX_TRANSFERS];

/* A folder a watch holds: its inotify watch and its path relative to the
 * watched folder ("" for the watched folder itself). No fd is kept: an
 * open folder's removal is not reported until it is closed. */
struct mark {
  uint32_t watch; /* 0: a free slot */
  int wd;
  char *rel;
};

static struct mark marks[MAX_MARKS];

#define WATCH_MASK \
  (IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v) {
  put_be32(p, (uint32_t)(v >> 32));
  put_be32(p + 4, (uint32_t)v);
}

/* ---------- answers ---------- */

static void answer_ok(uint32_t id, const void *body, size_t n) {
  unsigned char msg[5 + CHUNK];
  put_be32(msg, id);
  msg[4] = 'k';
  if (n > CHUNK) n = CHUNK;
  if (n) memcpy(msg + 5, body, n);
  send_frame('f', msg, (uint32_t)(5 + n));
}

/* An error answer: a stable code, a space, and what happened. */
static void answer_error(uint32_t id, const char *code, const char *text) {
  unsigned char msg[5 + 512];
  put_be32(msg, id);
  msg[4] = 'e';
  int n = snprintf((char *)msg + 5, 512, "%s %s", code, text);
  if (n < 0) n = 0;
  if (n >= 512) n = 511;
  send_frame('f', msg, (uint32_t)(5 + n));
}

/* The answer for a failed call, by its errno: EXDEV from a resolution is a
 * path that leads out of its place, ENXIO a FIFO without a reader or a
 * socket. */
static void answer_errno(uint32_t id, int err) {
  if (err == EXDEV) {
    answer_error(id, "ESCAPE", "leads out of the sandbox's writable places");
  } else if (err == ENXIO) {
    answer_error(id, "SPECIAL", "is a special file (FIFO, socket or device)");
  } else {
    const char *name = strerrorname_np(err);
    answer_error(id, name ? name : "EIO", strerror(err));
  }
}

static void send_taken(uint32_t id, uint32_t n) {
  unsigned char msg[8];
  put_be32(msg, id);
  put_be32(msg + 4, n);
  send_frame('w', msg, 8);
}

static char type_letter(mode_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  if (S_ISFIFO(mode)) return 'p';
  if (S_ISSOCK(mode)) return 's';
  if (S_ISCHR(mode)) return 'c';
  if (S_ISBLK(mode)) return 'b';
  return '?';
}

/* One entry: type letter, mode bits (4), size (8), mtime in ms (8), then
 * the path relative to what was asked about and the symlink's target, each
 * with a 4-byte length. Returns its size, or 0 when it does not fit. */
static size_t put_record(unsigned char *out, size_t room, const struct stat *st, const char *rel,
                         const char *target) {
  size_t rel_n = strlen(rel), target_n = target ? strlen(target) : 0;
  size_t n = 1 + 4 + 8 + 8 + 4 + rel_n + 4 + target_n;
  if (n > room) return 0;
  out[0] = (unsigned char)type_letter(st->st_mode);
  put_be32(out + 1, (uint32_t)(st->st_mode & 07777));
  put_be64(out + 5, (uint64_t)st->st_size);
  int64_t ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
  put_be64(out + 13, (uint64_t)ms);
  put_be32(out + 21, (uint32_t)rel_n);
  memcpy(out + 25, rel, rel_n);
  put_be32(out + 25 + rel_n, (uint32_t)target_n);
  memcpy(out + 29 + rel_n, target, target_n);
  return n;
}

/* A symlink's target, read from the folder it is in; "" if it cannot be read. */
static void link_target(int dirfd, const char *name, char *out, size_t size) {
  ssize_t n = readlinkat(dirfd, name, out, size - 1);
  out[n > 0 ? n : 0] = '\0';
}

/* ---------- resolving beneath a place ---------- */

/* Opens a folder named in `dirfd` for reading, never through a symlink.
 * Not with O_DIRECTORY | O_NOFOLLOW: gVisor of 2022 follows a symlink for
 * that pair; O_NOFOLLOW alone it honours, and the fd opened is the one
 * checked, so nothing can be swapped in between. */
static int open_dir_nofollow(int dirfd, const char *name) {
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    close(fd);
    errno = ENOTDIR;
    return -1;
  }
  return fd;
}

/* The place a path is in and the rest of it, relative; -1 if it is in none. */
static int place_of(const char *path, const char **rel) {
  for (int i = 0; i < PLACES; i++) {
    size_t n = strlen(PLACE_NAMES[i]);
    if (strncmp(path, PLACE_NAMES[i], n) == 0 && (path[n] == '\0' || path[n] == '/')) {
      *rel = path + n;
      while (**rel == '/') (*rel)++;
      return i;
    }
  }
  return -1;
}

/* The component-by-component resolver, for kernels without openat2: each
 * step opens one name with O_NOFOLLOW in the folder reached so far; a
 * symlink met on the way is read from that folder and its (relative)
 * target walked the same way; `..` goes back to the folder before, and
 * never above the place. */
static int walk_beneath(int root, const char *rel, int flags, mode_t mode) {
  int follow_last = !(flags & O_NOFOLLOW);
  static char path[2 * PATH_MAX + 2];
  if (strlen(rel) > PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(path, rel);
  int stack[WALK_DEPTH];
  int depth = 0;
  stack[0] = root;
  int links = 0, fd = -1, err = 0;
  char *cur = path;
  for (;;) {
    while (*cur == '/') cur++;
    if (*cur == '\0') { /* the path ends in a folder (the place itself, or after "..") */
      fd = openat(stack[depth], ".", (flags & ~(O_CREAT | O_NOFOLLOW)) | O_CLOEXEC);
      if (fd < 0) err = errno;
      break;
    }
    char *end = strchrnul(cur, '/');
    size_t n = (size_t)(end - cur);
    char name[NAME_MAX + 1];
    if (n > NAME_MAX) {
      err = ENAMETOOLONG;
      break;
    }
    memcpy(name, cur, n);
    name[n] = '\0';
    const char *rest = end;
    while (*rest == '/') rest++;
    int last = *rest == '\0';
    cur = end;
    if (strcmp(name, ".") == 0) continue;
    if (strcmp(name, "..") == 0) {
      if (depth == 0) {
        err = EXDEV;
        break;
      }
      close(stack[depth--]);
      continue;
    }
    int opened_errno = 0;
    if (!last) {
      fd = openat(stack[depth], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        if (depth + 1 >= WALK_DEPTH) {
          close(fd);
          err = ENAMETOOLONG;
          break;
        }
        stack[++depth] = fd;
        fd = -1;
        continue;
      }
      opened_errno = errno;
      if (opened_errno != ENOTDIR && opened_errno != ELOOP) {
        err = opened_errno;
        break;
      }
    } else {
      /* O_DIRECTORY is checked on the fd instead (see open_dir_nofollow). */
      int as_dir = (flags & O_DIRECTORY) && !(flags & O_PATH);
      fd = openat(stack[depth], name, (as_dir ? flags & ~O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC, mode);
      struct stat st;
      if (fd >= 0 && follow_last && (flags & O_PATH) && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
        close(fd);
        fd = -1;
        opened_errno = ELOOP;
      }
      if (fd >= 0 && as_dir && (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))) {
        close(fd);
        fd = -1;
        err = ENOTDIR;
        break;
      }
      if (fd >= 0) break;
      if (!opened_errno) opened_errno = errno;
      /* A symlink gives ELOOP, or ENOTDIR when O_DIRECTORY is asked for too. */
      if (!follow_last || (opened_errno != ELOOP && opened_errno != ENOTDIR)) {
        err = opened_errno;
        break;
      }
    }
    /* Maybe a symlink: read it where it is, and walk its target instead. */
    char target[PATH_MAX];
    ssize_t len = readlinkat(stack[depth], name, target, sizeof target - 1);
    if (len < 0) {
      err = opened_errno; /* not a symlink (any more): the open's own error */
      break;
    }
    target[len] = '\0';
    if (++links > MAX_LINKS) {
      err = ELOOP;
      break;
    }
    if (target[0] == '/') {
      err = EXDEV;
      break;
    }
    size_t rest_n = strlen(cur);
    if ((size_t)len + 1 + rest_n >= sizeof path) {
      err = ENAMETOOLONG;
      break;
    }
    memmove(path + len + 1, cur, rest_n + 1);
    memcpy(path, target, (size_t)len);
    path[len] = '/';
    cur = path;
  }
  while (depth > 0) close(stack[depth--]);
  if (fd < 0) {
    errno = err ? err : ENOENT;
    return -1;
  }
  return fd;
}

/* Opens `rel` beneath the place fd `root` with open()'s `flags`; a symlink
 * as the last component is followed unless `flags` holds O_NOFOLLOW. */
static int open_beneath(int root, const char *rel, int flags, mode_t mode) {
  if (*rel == '\0') rel = ".";
  if (!openat2_missing) {
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int tries = 0; tries < 8; tries++) {
      long fd = syscall(SYS_openat2, root, rel, &how, sizeof how);
      if (fd >= 0) return (int)fd;
      if (errno != EAGAIN) break; /* EAGAIN: a rename raced a "..": ask again */
    }
    return -1;
  }
  return walk_beneath(root, rel, flags, mode);
}

/* The folder `rel` is in, opened (following symlinks beneath the place),
 * and its last name in `*name` (pointing into `buf`). -1 with errno set;
 * EPERM for the place itself, EINVAL for a last name of "." or "..". */
static int open_parent(int root, const char *rel, char *buf, size_t size, const char **name) {
  size_t n = strlen(rel);
  while (n > 0 && rel[n - 1] == '/') n--;
  if (n == 0) {
    errno = EPERM;
    return -1;
  }
  if (n >= size) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, rel, n);
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  const char *parent = "";
  if (slash) {
    *slash = '\0';
    parent = buf;
    *name = slash + 1;
  } else {
    *name = buf;
  }
  if (strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
    errno = EINVAL;
    return -1;
  }
  return open_beneath(root, parent, O_PATH | O_DIRECTORY, 0);
}

/* Creates `rel` and the folders above it that are missing; *created says
 * whether `rel` itself was made. Each folder is made in its parent's fd,
 * resolved beneath the place. */
static int make_dirs(int root, const char *rel, int *created) {
  char path[PATH_MAX + 1], scratch[PATH_MAX + 1];
  size_t n = strlen(rel);
  while (n > 0 && rel[n - 1] == '/') n--;
  *created = 0;
  if (n > PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(path, rel, n);
  path[n] = '\0';
  if (n == 0) return 0;
  int fd = open_beneath(root, path, O_PATH | O_DIRECTORY, 0);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  if (errno != ENOENT) return -1;
  for (char *p = path;;) {
    char *end = strchrnul(p, '/');
    int last = *end == '\0';
    char saved = *end;
    *end = '\0';
    fd = open_beneath(root, path, O_PATH | O_DIRECTORY, 0);
    if (fd < 0 && errno == ENOENT) {
      const char *name;
      int parent = open_parent(root, path, scratch, sizeof scratch, &name);
      if (parent < 0) return -1;
      int made = mkdirat(parent, name, 0755);
      int made_errno = errno;
      close(parent);
      if (made != 0 && made_errno != EEXIST) {
        errno = made_errno;
        return -1;
      }
      if (made == 0 && last) *created = 1;
      fd = open_beneath(root, path, O_PATH | O_DIRECTORY, 0);
    }
    if (fd < 0) return -1;
    close(fd);
    *end = saved;
    if (last) return 0;
    p = end + 1;
  }
}

/* ---------- the transfers table ---------- */

static struct transfer *find_transfer(uint32_t id) {
  if (id == 0) return NULL;
  for (int i = 0; i < MAX_TRANSFERS; i++)
    if (transfers[i].id == id) return &transfers[i];
  return NULL;
}

static struct transfer *new_transfer(uint32_t id, char kind) {
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    struct transfer *t = &transfers[i];
    if (t->id != 0) continue;
    memset(t, 0, sizeof *t);
    t->id = id;
    t->kind = kind;
    t->fd = -1;
    return t;
  }
  answer_error(id, "EBUSY", "too many file operations at once in this sandbox");
  return NULL;
}

static void walk_close(struct walk *w) {
  if (!w) return;
  while (w->depth > 0) closedir(w->dir[--w->depth]);
  if (w->top_parent >= 0) close(w->top_parent);
  free(w);
}

static void unwatch(uint32_t id);

static void end_transfer(struct transfer *t) {
  if (t->kind == 'v') unwatch(t->id);
  if (t->fd >= 0) close(t->fd);
  walk_close(t->walk);
  free(t->top_rel);
  memset(t, 0, sizeof *t);
  t->fd = -1;
}

/* A walk from the folder `fd` (owned by the walk from now on). */
static struct walk *walk_open(int fd, int top_parent, const char *top_name) {
  struct walk *w = calloc(1, sizeof *w);
  DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
  if (!w || !dir) {
    int saved = errno;
    if (dir) closedir(dir);
    else if (fd >= 0) close(fd);
    free(w);
    errno = saved ? saved : ENOMEM;
    return NULL;
  }
  w->dir[0] = dir;
  w->depth = 1;
  w->top_parent = top_parent;
  snprintf(w->name[0], sizeof w->name[0], "%s", top_name);
  return w;
}

/* ---------- the operations ---------- */

/* 's': what is at the path; a symlink is reported as itself. */
static void op_stat(uint32_t id, int root, const char *rel) {
  char buf[PATH_MAX + 1], target[PATH_MAX];
  const char *name;
  struct stat st;
  unsigned char record[64 + PATH_MAX];
  target[0] = '\0';
  int parent = open_parent(root, rel, buf, sizeof buf, &name);
  if (parent < 0 && errno == EPERM) { /* the place itself */
    if (fstat(root, &st) != 0) return answer_errno(id, errno);
  } else if (parent < 0) {
    return answer_errno(id, errno);
  } else {
    int rc = fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW);
    int saved = errno;
    if (rc == 0 && S_ISLNK(st.st_mode)) link_target(parent, name, target, sizeof target);
    close(parent);
    if (rc != 0) return answer_errno(id, saved);
  }
  answer_ok(id, record, put_record(record, sizeof record, &st, "", S_ISLNK(st.st_mode) ? target : NULL));
}

/* 'r': the file's bytes follow in 'd' frames as the window allows. */
static void op_read(uint32_t id, int root, const char *rel) {
  int fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0) return answer_errno(id, errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = S_ISDIR(st.st_mode) ? EISDIR : ENXIO;
    close(fd);
    return answer_errno(id, err);
  }
  struct transfer *t = new_transfer(id, 'r');
  if (!t) {
    close(fd);
    return;
  }
  t->fd = fd;
}

/* 'w': opens (creating its folders) and truncates; 'M' frames bring the bytes. */
static void op_write(uint32_t id, int root, const char *rel) {
  char parent[PATH_MAX + 1];
  size_t n = strlen(rel);
  while (n > 0 && rel[n - 1] == '/') n--;
  memcpy(parent, rel, n);
  parent[n] = '\0';
  char *slash = strrchr(parent, '/');
  int created;
  if (slash) {
    *slash = '\0';
    if (make_dirs(root, parent, &created) != 0) return answer_errno(id, errno);
  }
  int fd = open_beneath(root, rel, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0) return answer_errno(id, errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return answer_errno(id, ENXIO);
  }
  struct transfer *t = new_transfer(id, 'w');
  if (!t) {
    close(fd);
    return;
  }
  t->fd = fd;
}

/* 'M': a chunk of a write, written at once (one chunk of disk work); with
 * no bytes, the end: the file is closed and its entry answered. */
static void write_data(const unsigned char *data, uint32_t len) {
  if (len < 4) fatal("%s", "file data frame without an id");
  struct transfer *t = find_transfer(be32(data));
  if (!t || t->kind != 'w') return; /* a write that already failed: its answer told the engine */
  const unsigned char *bytes = data + 4;
  size_t n = len - 4;
  if (n == 0) {
    struct stat st;
    unsigned char record[64];
    int rc = fstat(t->fd, &st);
    int saved = errno;
    uint32_t id = t->id;
    int closed = close(t->fd);
    t->fd = -1;
    end_transfer(t);
    if (rc != 0 || closed != 0) return answer_errno(id, rc != 0 ? saved : errno);
    return answer_ok(id, record, put_record(record, sizeof record, &st, "", NULL));
  }
  size_t done = 0;
  become_sandbox_effective();
  while (done < n) {
    ssize_t w = write(t->fd, bytes + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += (size_t)w;
  }
  int saved = errno;
  become_root_effective();
  if (done < n) {
    uint32_t id = t->id;
    end_transfer(t);
    return answer_errno(id, saved ? saved : EIO);
  }
  send_taken(t->id, (uint32_t)n);
}

/* 'l': entries of the folder, `depth` levels down, in 'd' frames. */
static void op_list(uint32_t id, int root, const char *rel, int depth) {
  int fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return answer_errno(id, errno);
  struct transfer *t = new_transfer(id, 'l');
  if (!t) {
    close(fd);
    return;
  }
  t->walk = walk_open(fd, -1, "");
  if (!t->walk) {
    int saved = errno;
    end_transfer(t);
    return answer_errno(id, saved);
  }
  t->max_depth = depth < 1 ? 1 : depth > WALK_DEPTH ? WALK_DEPTH : depth;
}

/* 'm': the folder and its parents; the answer's body says "1" if it was made, "0" if it was there. */
static void op_mkdir(uint32_t id, int root, const char *rel) {
  int created;
  if (make_dirs(root, rel, &created) != 0) return answer_errno(id, errno);
  answer_ok(id, created ? "1" : "0", 1);
}

/* 'n': moves `rel` to `to_rel` in the same place (replacing what is there, as rename() does). */
static void op_rename(uint32_t id, int root, const char *rel, int to_root, const char *to_rel) {
  if (root != to_root) return answer_error(id, "EXDEV", "cannot move between /sandbox and /tmp");
  char buf[PATH_MAX + 1], to_buf[PATH_MAX + 1];
  const char *name, *to_name;
  int from = open_parent(root, rel, buf, sizeof buf, &name);
  if (from < 0) return answer_errno(id, errno);
  int to = open_parent(to_root, to_rel, to_buf, sizeof to_buf, &to_name);
  if (to < 0) {
    int saved = errno;
    close(from);
    return answer_errno(id, saved);
  }
  struct stat st;
  char target[PATH_MAX];
  unsigned char record[64 + PATH_MAX];
  int rc = renameat(from, name, to, to_name);
  int saved = errno;
  if (rc == 0) rc = fstatat(to, to_name, &st, AT_SYMLINK_NOFOLLOW), saved = errno;
  if (rc == 0 && S_ISLNK(st.st_mode)) link_target(to, to_name, target, sizeof target);
  close(from);
  close(to);
  if (rc != 0 && saved == EXDEV) return answer_error(id, "EXDEV", "cannot move across filesystems");
  if (rc != 0) return answer_errno(id, saved);
  answer_ok(id, record, put_record(record, sizeof record, &st, "", S_ISLNK(st.st_mode) ? target : NULL));
}

/* 'x': removes a file, a symlink (never what it points to) or a folder with
 * everything in it; a folder is emptied a step at a time (see remove_step). */
static void op_remove(uint32_t id, int root, const char *rel) {
  char buf[PATH_MAX + 1];
  const char *name;
  int parent = open_parent(root, rel, buf, sizeof buf, &name);
  if (parent < 0) return answer_errno(id, errno);
  if (unlinkat(parent, name, 0) == 0) {
    close(parent);
    return answer_ok(id, "", 0);
  }
  if (errno != EISDIR && errno != EPERM) { /* Linux says EISDIR for a folder; POSIX allows EPERM */
    int saved = errno;
    close(parent);
    return answer_errno(id, saved);
  }
  int fd = open_dir_nofollow(parent, name);
  if (fd < 0) {
    int saved = errno;
    close(parent);
    return answer_errno(id, saved);
  }
  struct transfer *t = new_transfer(id, 'x');
  if (!t) {
    close(fd);
    close(parent);
    return;
  }
  t->walk = walk_open(fd, parent, name);
  if (!t->walk) {
    int saved = errno;
    close(parent);
    end_transfer(t);
    return answer_errno(id, saved);
  }
}

/* ---------- watches ---------- */

static int marks_of_wd(int wd) {
  int n = 0;
  for (int i = 0; i < MAX_MARKS; i++)
    if (marks[i].watch && marks[i].wd == wd) n++;
  return n;
}

static void drop_mark(struct mark *m, int remove_watch) {
  int wd = m->wd;
  free(m->rel);
  memset(m, 0, sizeof *m);
  if (remove_watch && marks_of_wd(wd) == 0) inotify_rm_watch(inotify_fd, wd);
}

static void unwatch(uint32_t id) {
  for (int i = 0; i < MAX_MARKS; i++)
    if (marks[i].watch == id) drop_mark(&marks[i], 1);
}

/* Watches the folder `fd` (closed here). The watch is added through the
 * fd itself (fchdir, then "."), never a path. */
static int add_mark(uint32_t watch, int fd, const char *rel) {
  struct mark *m = NULL;
  for (int i = 0; !m && i < MAX_MARKS; i++)
    if (marks[i].watch == 0) m = &marks[i];
  if (!m) {
    close(fd);
    errno = ENOSPC;
    return -1;
  }
  int wd = -1;
  if (fchdir(fd) == 0) {
    wd = inotify_add_watch(inotify_fd, ".", WATCH_MASK);
    int saved = errno;
    if (fchdir(root_dir_fd) != 0) die_errno("fchdir /");
    errno = saved;
  }
  int saved = errno;
  close(fd);
  char *copy = wd >= 0 ? strdup(rel) : NULL;
  if (!copy) {
    errno = wd >= 0 ? ENOMEM : saved;
    return -1;
  }
  m->watch = watch;
  m->wd = wd;
  m->rel = copy;
  return 0;
}

static void send_event(uint32_t watch, char type, const char *rel, const char *name) {
  unsigned char msg[5 + REL_MAX + NAME_MAX + 2];
  put_be32(msg, watch);
  msg[4] = (unsigned char)type;
  int n = snprintf((char *)msg + 5, REL_MAX + NAME_MAX + 2, "%s%s%s", rel, *rel ? "/" : "", name);
  if (n < 0 || n >= REL_MAX + NAME_MAX + 2) return;
  send_frame('e', msg, (uint32_t)(5 + n));
}

/* Watches the folders below `fd` (a folder of watch `watch` at `rel`),
 * each through an fd opened in its parent's with O_NOFOLLOW. With
 * `report`, each entry found is reported as created: a folder made after
 * the watch began may have been filled before its own watch was added. */
static int add_marks_below(uint32_t watch, int fd, const char *rel, int report, int depth) {
  if (depth >= WALK_DEPTH) return 0;
  int listing = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = listing >= 0 ? fdopendir(listing) : NULL;
  if (!dir) {
    if (listing >= 0) close(listing);
    return 0; /* gone already: its removal is reported by its parent's watch */
  }
  struct dirent *entry;
  int rc = 0;
  while (rc == 0 && (entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    if (report) send_event(watch, 'c', rel, entry->d_name);
    if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN) continue;
    int sub = openat(dirfd(dir), entry->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) continue;
    char sub_rel[REL_MAX + 1];
    int n = snprintf(sub_rel, sizeof sub_rel, "%s%s%s", rel, *rel ? "/" : "", entry->d_name);
    if (n < 0 || n >= (int)sizeof sub_rel) {
      close(sub);
      continue;
    }
    int keep = dup(sub);
    if (keep < 0 || add_mark(watch, keep, sub_rel) != 0) rc = -1;
    else rc = add_marks_below(watch, sub, sub_rel, report, depth + 1);
    close(sub);
  }
  closedir(dir);
  return rc;
}

/* 'v': watches a folder (and with `recursive`, every folder below it,
 * those made later too); events follow in 'e' frames. */
static void op_watch(uint32_t id, int root, const char *rel, int recursive) {
  if (inotify_fd < 0) {
    inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); /* as the sandbox user: its limits, not root's */
    if (inotify_fd < 0) return answer_errno(id, errno);
  }
  int fd = open_beneath(root, rel, O_PATH | O_DIRECTORY, 0);
  if (fd < 0) return answer_errno(id, errno);
  struct transfer *t = new_transfer(id, 'v');
  if (!t) {
    close(fd);
    return;
  }
  t->recursive = recursive;
  t->root = root;
  t->top_rel = strdup(rel);
  int below = recursive ? dup(fd) : -1;
  int rc = add_mark(id, fd, "");
  if (rc == 0 && recursive) rc = below >= 0 ? add_marks_below(id, below, "", 0, 0) : -1;
  int saved = errno;
  if (below >= 0) close(below);
  if (rc != 0) {
    end_transfer(t);
    if (saved == ENOSPC) return answer_error(id, "ENOSPC", "too many folders to watch in this sandbox");
    return answer_errno(id, saved);
  }
  answer_ok(id, "", 0);
}

/* A watch the sandbox ended: its error answer tells the engine why. */
static void end_watch(uint32_t id, const char *code, const char *text) {
  struct transfer *t = find_transfer(id);
  if (t) end_transfer(t);
  answer_error(id, code, text);
}

static void watch_event(const struct inotify_event *ev) {
  if (ev->mask & IN_Q_OVERFLOW) {
    for (int i = 0; i < MAX_TRANSFERS; i++)
      if (transfers[i].id && transfers[i].kind == 'v')
        end_watch(transfers[i].id, "EOVERFLOW", "events were lost: the sandbox's event queue overflowed");
    return;
  }
  for (int i = 0; i < MAX_MARKS; i++) {
    struct mark *m = &marks[i];
    if (!m->watch || m->wd != ev->wd) continue;
    uint32_t watch = m->watch;
    if (ev->mask & IN_IGNORED) {
      drop_mark(m, 0);
      continue;
    }
    if (ev->mask & IN_DELETE_SELF) {
      if (m->rel[0] == '\0') end_watch(watch, "ENOENT", "the watched folder was removed");
      continue;
    }
    const char *name = ev->len ? ev->name : "";
    char type = ev->mask & IN_CREATE       ? 'c'
                : ev->mask & IN_MOVED_TO   ? 'c'
                : ev->mask & IN_MODIFY     ? 'w'
                : ev->mask & IN_DELETE     ? 'r'
                : ev->mask & IN_MOVED_FROM ? 'm'
                : ev->mask & IN_ATTRIB     ? 'a'
                                           : 0;
    if (!type || !*name) continue;
    send_event(watch, type, m->rel, name);
    struct transfer *t = find_transfer(watch);
    if (!t || !t->recursive || !(ev->mask & IN_ISDIR)) continue;
    char sub_rel[REL_MAX + 1];
    int n = snprintf(sub_rel, sizeof sub_rel, "%s%s%s", m->rel, *m->rel ? "/" : "", name);
    if (n < 0 || n >= (int)sizeof sub_rel) continue;
    if (ev->mask & IN_MOVED_FROM) { /* its marks would name it by its old path */
      size_t len = (size_t)n;
      for (int j = 0; j < MAX_MARKS; j++)
        if (marks[j].watch == watch && strncmp(marks[j].rel, sub_rel, len) == 0 &&
            (marks[j].rel[len] == '\0' || marks[j].rel[len] == '/'))
          drop_mark(&marks[j], 1);
    } else if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
      /* Found again beneath the place: where the folder is now, or nothing. */
      char full[REL_MAX + PATH_MAX + 2];
      const char *top = t->top_rel ? t->top_rel : "";
      n = snprintf(full, sizeof full, "%s%s%s", top, *top ? "/" : "", sub_rel);
      if (n < 0 || n >= (int)sizeof full) continue;
      int sub = open_beneath(t->root, full, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
      if (sub < 0) continue;
      int keep = dup(sub);
      int rc = keep >= 0 ? add_mark(watch, keep, sub_rel) : -1;
      if (rc == 0) rc = add_marks_below(watch, sub, sub_rel, (ev->mask & IN_CREATE) != 0, 0);
      close(sub);
      if (rc != 0 && errno == ENOSPC)
        end_watch(watch, "ENOSPC", "too many folders to watch in this sandbox");
    }
  }
}

static void read_events(void) {
  _Alignas(struct inotify_event) char buf[16 * 1024];
  for (;;) {
    become_sandbox_effective();
    ssize_t n = read(inotify_fd, buf, sizeof buf);
    if (n <= 0) {
      become_root_effective();
      return;
    }
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      watch_event(ev);
      p += sizeof *ev + ev->len;
    }
    become_root_effective();
  }
}

/* ---------- steps of the transfers, one chunk each ---------- */

static void read_step(struct transfer *t) {
  unsigned char buf[4 + CHUNK];
  long long room = FILE_WINDOW - t->unanswered;
  size_t want = room < CHUNK ? (size_t)room : CHUNK;
  ssize_t n = read(t->fd, buf + 4, want);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  uint32_t id = t->id;
  if (n < 0) {
    int saved = errno;
    end_transfer(t);
    return answer_errno(id, saved);
  }
  if (n == 0) {
    end_transfer(t);
    return answer_ok(id, "", 0);
  }
  put_be32(buf, id);
  send_frame('d', buf, (uint32_t)(4 + n));
  t->unanswered += n;
}

/* One chunk of a listing's entries, depth first. */
static void list_step(struct transfer *t) {
  static unsigned char buf[4 + CHUNK];
  struct walk *w = t->walk;
  size_t used = 4;
  const size_t biggest = 29 + REL_MAX + NAME_MAX + 1 + PATH_MAX;
  while (w->depth > 0 && used + biggest <= sizeof buf) {
    DIR *dir = w->dir[w->depth - 1];
    struct dirent *entry = readdir(dir);
    if (!entry) {
      closedir(dir);
      w->depth--;
      if (w->depth > 0) w->rel[w->rel_len[w->depth - 1]] = '\0';
      continue;
    }
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue; /* removed meanwhile */
    size_t base = w->rel_len[w->depth - 1];
    if (base + 1 + strlen(entry->d_name) > REL_MAX) continue;
    char *rel = w->rel;
    int n = snprintf(rel + base, sizeof w->rel - base, "%s%s", base ? "/" : "", entry->d_name);
    char target[PATH_MAX];
    if (S_ISLNK(st.st_mode)) link_target(dirfd(dir), entry->d_name, target, sizeof target);
    used += put_record(buf + used, sizeof buf - used, &st, rel, S_ISLNK(st.st_mode) ? target : NULL);
    if (S_ISDIR(st.st_mode) && w->depth < t->max_depth && w->depth < WALK_DEPTH) {
      int fd = open_dir_nofollow(dirfd(dir), entry->d_name);
      DIR *sub = fd >= 0 ? fdopendir(fd) : NULL;
      if (sub) {
        w->dir[w->depth] = sub;
        w->rel_len[w->depth] = base + (size_t)n;
        w->depth++;
        continue;
      }
      if (fd >= 0) close(fd);
    }
    rel[base] = '\0';
  }
  if (used > 4) {
    put_be32(buf, t->id);
    send_frame('d', buf, (uint32_t)used);
    t->unanswered += (long long)used - 4;
  }
  if (w->depth == 0) {
    uint32_t id = t->id;
    end_transfer(t);
    answer_ok(id, "", 0);
  }
}

/* Up to REMOVE_STEP names of a removal: depth first, each folder removed
 * once it is empty; nothing is followed (a symlink is removed itself). */
static void remove_step(struct transfer *t) {
  struct walk *w = t->walk;
  for (int work = 0; work < REMOVE_STEP && w->depth > 0; work++) {
    DIR *dir = w->dir[w->depth - 1];
    struct dirent *entry = readdir(dir);
    if (!entry) {
      closedir(dir);
      w->depth--;
      int parent = w->depth > 0 ? dirfd(w->dir[w->depth - 1]) : w->top_parent;
      if (unlinkat(parent, w->name[w->depth], AT_REMOVEDIR) != 0 && errno != ENOENT) {
        uint32_t id = t->id;
        int saved = errno;
        end_transfer(t);
        return answer_errno(id, saved);
      }
      continue;
    }
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    if (unlinkat(dirfd(dir), entry->d_name, 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      uint32_t id = t->id;
      int saved = errno;
      end_transfer(t);
      return answer_errno(id, saved);
    }
    if (w->depth >= WALK_DEPTH) {
      uint32_t id = t->id;
      end_transfer(t);
      return answer_error(id, "ENAMETOOLONG", "folders nested too deep to remove");
    }
    int fd = open_dir_nofollow(dirfd(dir), entry->d_name);
    DIR *sub = fd >= 0 ? fdopendir(fd) : NULL;
    if (!sub) {
      if (fd >= 0) close(fd);
      continue; /* replaced meanwhile; its folder's removal says if anything is left */
    }
    w->dir[w->depth] = sub;
    snprintf(w->name[w->depth], sizeof w->name[w->depth], "%s", entry->d_name);
    w->depth++;
  }
  if (w->depth == 0) {
    uint32_t id = t->id;
    end_transfer(t);
    answer_ok(id, "", 0);
  }
}

/* ---------- frames ---------- */

/* 'B': 4-byte id, 1-byte operation, fields 'p' path, 'q' second path,
 * 'd' depth (decimal), 'r' (empty) recursive. */
static void file_request(const unsigned char *data, uint32_t len) {
  if (len < 5) fatal("%s", "file request without an id and an operation");
  uint32_t id = be32(data);
  char op = (char)data[4];
  if (id == 0 || find_transfer(id)) fatal("%s", "file request id in use");
  unsigned char *fields = malloc(len - 5 + 1);
  if (!fields) fatal("%s", "out of memory for a file request");
  memcpy(fields, data + 5, len - 5);
  const char *path = NULL, *to = NULL;
  int depth = 1, recursive = 0;
  uint32_t off = 0, flen;
  unsigned char tag;
  char *value;
  const char *problem = NULL;
  while (!problem && next_field(fields, len - 5, &off, &tag, &value, &flen, &problem) > 0) {
    if (tag == 'p') path = value;
    else if (tag == 'q') to = value;
    else if (tag == 'd') depth = atoi(value);
    else if (tag == 'r') recursive = 1;
    else problem = "unknown field";
  }
  if (!problem && !path) problem = "no path";
  if (!problem && op == 'n' && !to) problem = "no path to move to";
  if (problem) fatal("bad file request: %s", problem);

  const char *rel, *to_rel = NULL;
  int place = place_of(path, &rel);
  int to_place = to ? place_of(to, &to_rel) : place;
  become_sandbox_effective();
  if (place < 0 || to_place < 0) {
    answer_error(id, "ESCAPE", "is outside the sandbox's writable places (/sandbox and /tmp)");
  } else if (strlen(rel) > PATH_MAX || (to_rel && strlen(to_rel) > PATH_MAX)) {
    answer_errno(id, ENAMETOOLONG);
  } else {
    int root = place_fd[place];
    switch (op) {
    case 's': op_stat(id, root, rel); break;
    case 'r': op_read(id, root, rel); break;
    case 'w': op_write(id, root, rel); break;
    case 'l': op_list(id, root, rel, depth); break;
    case 'm': op_mkdir(id, root, rel); break;
    case 'n': op_rename(id, root, rel, place_fd[to_place], to_rel); break;
    case 'x': op_remove(id, root, rel); break;
    case 'v': op_watch(id, root, rel, recursive); break;
    default: answer_error(id, "EINVAL", "unknown file operation");
    }
  }
  become_root_effective();
  free(fields);
}

int files_frame(char type, const unsigned char *data, uint32_t len) {
  struct transfer *t;
  switch (type) {
  case 'B':
    file_request(data, len);
    return 1;
  case 'M':
    write_data(data, len);
    return 1;
  case 'V':
    if (len < 8) fatal("%s", "short file credit frame");
    t = find_transfer(be32(data));
    if (t) {
      t->unanswered -= be32(data + 4);
      if (t->unanswered < 0) t->unanswered = 0;
    }
    return 1;
  case 'b':
    if (len < 4) fatal("%s", "file stop frame without an id");
    t = find_transfer(be32(data));
    if (t) {
      become_sandbox_effective();
      end_transfer(t);
      become_root_effective();
    }
    return 1;
  default:
    return 0;
  }
}

/* ---------- the loop's hook ---------- */

void files_start(void) {
  /* The sandbox user has no supplementary groups; neither do its file operations. */
  if (setgroups(0, NULL) != 0) die_errno("setgroups");
  root_dir_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_dir_fd < 0) die_errno("open /");
  become_sandbox_effective();
  for (int i = 0; i < PLACES; i++) place_fd[i] = open(PLACE_NAMES[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
  /* Whether openat2 works, asked once of a call that cannot fail for any
   * other reason: a kernel without it says ENOSYS, and gVisor of 2022 under
   * the engine's seccomp profile EPERM (the profile allows openat2 by a
   * name that gVisor does not know, so its default answer applies). */
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  long probe = syscall(SYS_openat2, place_fd[PLACE_SANDBOX], ".", &how, sizeof how);
  if (probe >= 0) close((int)probe);
  else openat2_missing = 1;
  become_root_effective();
  for (int i = 0; i < MAX_TRANSFERS; i++) transfers[i].fd = -1;
}

int files_poll(struct pollfd *fds, int *nfds) {
  inotify_poll_slot = -1;
  if (inotify_fd >= 0) {
    inotify_poll_slot = *nfds;
    fds[(*nfds)++] = (struct pollfd){inotify_fd, POLLIN, 0};
  }
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    struct transfer *t = &transfers[i];
    if ((t->kind == 'r' || t->kind == 'l') && t->unanswered < FILE_WINDOW) return 0;
    if (t->kind == 'x') return 0;
  }
  return -1;
}

void files_serve(const struct pollfd *fds) {
  become_sandbox_effective();
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    struct transfer *t = &transfers[i];
    if (t->id == 0) continue;
    if (t->kind == 'r' && t->unanswered < FILE_WINDOW) read_step(t);
    else if (t->kind == 'l' && t->unanswered < FILE_WINDOW) list_step(t);
    else if (t->kind == 'x') remove_step(t);
  }
  become_root_effective();
  if (inotify_poll_slot >= 0 && fds[inotify_poll_slot].revents) read_events();
}
