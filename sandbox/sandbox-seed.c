/*
 * The files an image's build left in /sandbox.
 *
 * At run time /sandbox is a tmpfs, so what `isol8 build --setup` wrote there
 * would be hidden. The build copies it to SANDBOX_SEED_DIR (read-only, in the
 * image), and the supervisor copies it back into /sandbox when the container
 * starts and after every wipe: for such an image, that tree is what a fresh
 * /sandbox holds.
 *
 * The copy runs while no sandbox process is alive (before the first program,
 * or after the wipe killed them all) into a /sandbox just emptied, and acts
 * as the sandbox user, so it can create nothing that user could not: files
 * are made with O_EXCL and O_NOFOLLOW, and nothing is followed. Regular
 * files, folders and symbolic links are copied with their modes; anything
 * else (a device, a fifo, a socket) is left out.
 */
#define _GNU_SOURCE /* nftw's FTW_PHYS and FTW_DEPTH */
#include "sandbox-seed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SANDBOX_ROOT "/sandbox"

/* Copies one regular file's bytes from `from` to a new file `to`. */
static int copy_file(const char *from, const char *to, mode_t mode) {
  int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int saved = errno;
    close(in);
    errno = saved;
    return -1;
  }
  char buf[65536];
  int failed = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      failed = 1;
      break;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf + done, (size_t)(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        failed = 1;
        break;
      }
      done += w;
    }
    if (failed) break;
  }
  int saved = errno;
  if (!failed && fchmod(out, mode & 07777) != 0) failed = 1, saved = errno;
  close(in);
  if (close(out) != 0 && !failed) failed = 1, saved = errno;
  errno = saved;
  return failed ? -1 : 0;
}

static int copy_entry(const char *path, const struct stat *st, int kind, struct FTW *ftw) {
  (void)ftw;
  const char *rel = path + strlen(SANDBOX_SEED_DIR);
  if (*rel == '\0') return 0; /* the seed folder itself: /sandbox keeps its own mode */
  char target[PATH_MAX];
  if (snprintf(target, sizeof target, "%s%s", SANDBOX_ROOT, rel) >= (int)sizeof target) {
    errno = ENAMETOOLONG;
    return -1;
  }
  switch (kind) {
  case FTW_D:
    /* Made writable for its owner until the copy is done (a folder may be
     * read-only), then given its mode. */
    if (mkdir(target, 0700) != 0) return -1;
    return 0;
  case FTW_DP:
    return chmod(target, st->st_mode & 07777);
  case FTW_F:
    return S_ISREG(st->st_mode) ? copy_file(path, target, st->st_mode) : 0;
  case FTW_SL: {
    char link[PATH_MAX];
    ssize_t len = readlink(path, link, sizeof link - 1);
    if (len < 0) return -1;
    link[len] = '\0';
    return symlink(link, target);
  }
  default: /* unreadable folder or entry: the copy would be incomplete */
    errno = EACCES;
    return -1;
  }
}

/* Two walks: the first (pre-order) makes each folder before its contents,
 * writable by its owner, and copies files and links; the second
 * (post-order) gives each folder its own mode once its contents are in. */
static int make_folders_and_files(const char *path, const struct stat *st, int kind, struct FTW *ftw) {
  return kind == FTW_DP ? 0 : copy_entry(path, st, kind, ftw);
}
static int set_folder_modes(const char *path, const struct stat *st, int kind, struct FTW *ftw) {
  return kind == FTW_DP ? copy_entry(path, st, kind, ftw) : 0;
}

int sandbox_seed_copy(void) {
  struct stat st;
  if (lstat(SANDBOX_SEED_DIR, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return 0;
  if (nftw(SANDBOX_SEED_DIR, make_folders_and_files, 32, FTW_PHYS) != 0) return -1;
  return nftw(SANDBOX_SEED_DIR, set_folder_modes, 32, FTW_PHYS | FTW_DEPTH) != 0 ? -1 : 0;
}
