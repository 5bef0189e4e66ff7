import { readFileSync } from "node:fs";
import type { SeccompMode } from "../types.js";
import { InvalidOptionError } from "./errors.js";

/**
 * isol8's strict seccomp profile: an allow-list. It starts from the system
 * calls Docker's default profile allows without any capability and removes
 * the ones sandboxed code never needs and that widen the kernel's attack
 * surface: io_uring, clock adjustment, file handles, fanotify. Everything
 * Docker only allows with a capability (mount, unshare, setns, ptrace,
 * process_vm_*, bpf, perf_event_open, keyctl, kexec, reboot, module loading,
 * swapon, acct, quotactl, settimeofday, ...) is absent, so it fails with EPERM
 * whatever capabilities the container holds.
 */
// Stryker disable Regex: the list has single spaces and line breaks, so /\s/ splits it the same.
const ALLOWED = `
accept accept4 access alarm bind brk capget capset chdir chmod chown chown32
clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
fadvise64 fadvise64_64 fallocate fchdir fchmod fchmodat fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv
futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit kill
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
lstat lstat64 madvise membarrier memfd_create mincore mkdir mkdirat mknod mknodat mlock
mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap nanosleep newfstatat _newselect open
openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
sigprocmask sigreturn splice stat stat64 statfs statfs64 statx
symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`
  .trim()
  .split(/\s+/);
// Stryker restore Regex

/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may create no namespace. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const ENOSYS = 38;
const EPERM = 1;
const EAFNOSUPPORT = 97;
const EPROTONOSUPPORT = 93;

/**
 * Socket families sandboxed programs need: local sockets and IP. Every other
 * family (AF_ALG, AF_VSOCK, AF_PACKET, AF_KEY, AF_BLUETOOTH, ...) reaches
 * kernel code no sandboxed program needs, and kernel exploits keep coming
 * through it (container escapes of 2026 went through AF_ALG).
 */
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
/** Allowed only with NETLINK_ROUTE: glibc's getaddrinfo and getifaddrs use it. */
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
/** The refused families below AF_NETLINK; one rule refuses every family above it. */
const REFUSED_FAMILIES_BELOW_NETLINK = [0, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15];

interface SeccompRule {
  names: string[];
  action: "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO";
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

/** What the strict profile is built for. */
interface StrictProfileTarget {
  /**
   * For runsc, whose OCI seccomp support ignores `errnoRet` (clone3 got EPERM
   * there, so glibc never fell back to clone, and no thread could start: node
   * aborted at start-up). There clone3 is let through to gVisor's own kernel,
   * which does not implement it and answers ENOSYS itself; a clone3 gVisor
   * did implement would create its namespaces inside gVisor's kernel, not
   * the host's.
   */
  forGvisor?: boolean;
  /**
   * Also accept the compatibility system call ABIs: 32-bit x86 and x32 on an
   * x86-64 host, 32-bit ARM on an arm64 one. Off by default: they are a
   * second, less exercised way into the kernel (through the multiplexed
   * `socketcall`, for one, socket creation escapes the family rules).
   */
  compatAbis?: boolean;
}

const socketRule = (
  action: SeccompRule["action"],
  family: { op: string; value: number },
  errnoRet?: number,
  protocol?: { op: string; value: number },
): SeccompRule => ({
  names: ["socket"],
  action,
  ...(errnoRet === undefined ? {} : { errnoRet }),
  args: [
    { index: 0, value: family.value, op: family.op },
    ...(protocol ? [{ index: 2, value: protocol.value, op: protocol.op }] : []),
  ],
});

/**
 * Which sockets can be made. An allowed family passes; a refused one
 * answers EAFNOSUPPORT, the error libraries expect from a kernel built
 * without that family (and handle: Python's socket module, libuv, glibc's
 * resolver), rather than the EPERM of the default action. Each rule
 * compares one argument once, so no two rules can match the same call.
 *
 * With the compatibility ABIs, libseccomp also writes these rules for
 * 32-bit x86's multiplexed `socketcall`, whose arguments sit behind a
 * pointer: rules that differ only in their arguments collide there, so only
 * the allowing ones are kept (other families then get the default EPERM),
 * and a 32-bit program's socketcall creates a socket of any family. That
 * hole is why the compatibility ABIs are off by default.
 */
function socketRules(compatAbis: boolean): SeccompRule[] {
  const eq = (value: number) => ({ op: "SCMP_CMP_EQ", value });
  const rules: SeccompRule[] = [
    ...[AF_UNIX, AF_INET, AF_INET6].map((family) => socketRule("SCMP_ACT_ALLOW", eq(family))),
    socketRule("SCMP_ACT_ALLOW", eq(AF_NETLINK), undefined, eq(NETLINK_ROUTE)),
    socketRule("SCMP_ACT_ERRNO", eq(AF_NETLINK), EPROTONOSUPPORT, {
      op: "SCMP_CMP_NE",
      value: NETLINK_ROUTE,
    }),
    ...REFUSED_FAMILIES_BELOW_NETLINK.map((family) =>
      socketRule("SCMP_ACT_ERRNO", eq(family), EAFNOSUPPORT),
    ),
    socketRule("SCMP_ACT_ERRNO", { op: "SCMP_CMP_GT", value: AF_NETLINK }, EAFNOSUPPORT),
    // A pair is made by the family's own code too; only local pairs exist.
    { names: ["socketpair"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, ...eq(AF_UNIX) }] },
    {
      names: ["socketpair"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EAFNOSUPPORT,
      args: [{ index: 0, value: AF_UNIX, op: "SCMP_CMP_NE" }],
    },
  ];
  return compatAbis ? rules.filter((rule) => rule.action === "SCMP_ACT_ALLOW") : rules;
}

/** The strict profile as Docker's JSON profile format. */
export function strictSeccompProfile(target: StrictProfileTarget = {}): object {
  const compat = target.compatAbis ?? false;
  const personality = (value: number): SeccompRule => ({
    names: ["personality"],
    action: "SCMP_ACT_ALLOW",
    args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
  });
  const syscalls: SeccompRule[] = [
    { names: ALLOWED, action: "SCMP_ACT_ALLOW" },
    { names: ["arch_prctl", "modify_ldt"], action: "SCMP_ACT_ALLOW" },
    ...socketRules(compat),
    // Threads and processes, but no new namespaces.
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    },
    // clone3's flags are behind a pointer seccomp cannot read; ENOSYS makes libc fall back to clone.
    target.forGvisor
      ? { names: ["clone3"], action: "SCMP_ACT_ALLOW" }
      : { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
    // Only the default and Linux-compatible personalities (no ASLR switch-off).
    ...[0, 8, 0x20000, 0x20008, 0xffffffff].map(personality),
  ];
  // Without sub-architectures, a system call made through another ABI
  // (int 0x80 on x86-64, say) matches no architecture of the filter: the
  // kernel kills the caller with SIGSYS before any rule is looked at.
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: EPERM,
    archMap: [
      {
        architecture: "SCMP_ARCH_X86_64",
        subArchitectures: compat ? ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] : [],
      },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: compat ? ["SCMP_ARCH_ARM"] : [] },
    ],
    syscalls,
  };
}

/** The seccomp profile a sandbox runs under, as options name it. */
interface SeccompChoice {
  mode: SeccompMode;
  /** The profile file, for `custom`. */
  customProfilePath?: string;
  /** The OCI runtime the profile is for (`runsc` gets gVisor's variant). */
  ociRuntime?: string;
  /** Whether the strict profile accepts the compatibility ABIs. */
  compatAbis?: boolean;
}

/**
 * The Docker `SecurityOpt` entry for a choice. A custom profile that cannot
 * be read or is not a JSON object is an error: isol8 never runs a sandbox
 * without the profile it was asked for.
 */
export function seccompSecurityOpt(choice: SeccompChoice): string {
  switch (choice.mode) {
    case "strict": {
      const target = { forGvisor: choice.ociRuntime === "runsc", compatAbis: choice.compatAbis };
      return `seccomp=${JSON.stringify(strictSeccompProfile(target))}`;
    }
    case "unconfined":
      return "seccomp=unconfined";
    case "custom":
      return `seccomp=${JSON.stringify(readCustomProfile(choice.customProfilePath))}`;
  }
}

function readCustomProfile(path: string | undefined): object {
  if (!path)
    throw new InvalidOptionError(
      "security.customProfilePath: required when security.seccomp is custom",
    );
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding the Buffer read is parsed as UTF-8 by JSON.parse all the same.
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidOptionError(
      `security.customProfilePath: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  let profile: unknown;
  try {
    profile = JSON.parse(text);
  } catch {
    // The parser's message quotes the file's first bytes: never repeat a file's content.
    throw new InvalidOptionError(`security.customProfilePath: ${path} is not valid JSON`);
  }
  if (typeof profile !== "object" || profile === null || !("defaultAction" in profile)) {
    throw new InvalidOptionError(
      `security.customProfilePath: ${path} is not a seccomp profile (no defaultAction)`,
    );
  }
  return profile;
}
