/*
 * What the supervisor's parts share: supervisor.c (the channel, one-off
 * runs, wipes), processes.c (a long-lived sandbox's many processes and
 * terminals) and files.c (its file operations). See supervisor.c's header for the protocol.
 */
#ifndef ISOL8_SUPERVISOR_H
#define ISOL8_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#define SANDBOX_UID 100
#define SANDBOX_GID 100
#define CHUNK 65536
#define MAX_ARGS 256
#define MAX_ENV 1024

/* What to exec: argv, environment, working directory. */
struct launch {
  char *argv[MAX_ARGS + 1];
  int argc;
  char *envp[MAX_ENV + 1];
  int envc;
  const char *workdir;
};

int64_t now_us(void);
void send_frame(char type, const void *payload, uint32_t len);
void send_text(char type, const char *fmt, ...);
_Noreturn void leave(int code);
void fatal(const char *fmt, const char *detail);
void die_errno(const char *what);
uint32_t be32(const unsigned char *p);
void set_nonblock(int fd);
void close_fd(int *fd);
void become_sandbox_effective(void);
void become_root_effective(void);

int next_field(unsigned char *p, uint32_t len, uint32_t *off, unsigned char *tag, char **value, uint32_t *flen,
               const char **problem);
int launch_field(struct launch *l, unsigned char tag, char *value, const char **problem);
void child_fail(const char *what, const char *detail);
int make_workdir(const char *workdir);
void enter_sandbox(int in_fd, int out_fd, int err_fd, int ctl_fd);
_Noreturn void exec_launch(struct launch *l);
long long process_cpu_us(pid_t pid);

void kill_sandbox_processes(void);
void prestart_discard(void);
void note_reaped(pid_t pid);

extern int channel_open;
extern int linger;
void channel_read(void);
int channel_next(char *type, unsigned char **payload, uint32_t *len);
void channel_consume(uint32_t len);
void channel_closed(void);

/* processes.c: serves the frame that made the container a long-lived
 * sandbox ('N') and every frame after it, for good. */
_Noreturn void processes_loop(char first_type, unsigned char *first, uint32_t len, int sigfd);

/* files.c: a long-lived sandbox's file operations ('B', 'M', 'V', 'b').
 * files_start() once, before the first frame; files_frame() handles one of
 * its frames (1) or says it is not one (0); in each turn of the loop,
 * files_poll() adds its fds (at most FILES_POLL_FDS) from fds[*nfds] on
 * and returns the poll timeout it needs (0: a transfer can move now; -1:
 * none), and files_serve() moves each transfer by one chunk and reads the
 * watches' events. */
#define FILES_POLL_FDS 1
struct pollfd;
void files_start(void);
int files_frame(char type, const unsigned char *data, uint32_t len);
int files_poll(struct pollfd *fds, int *nfds);
void files_serve(const struct pollfd *fds);

#endif
