"""What kind of work a syscall does, for grouping the report's per-arch charts.

A row is data: a name not listed here is `other`. Names are libseccomp's, for every arch
(a name absent on one arch simply never shows up there).
"""

from __future__ import annotations

KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("file", (
        "open", "openat", "openat2", "creat", "close", "close_range", "read", "write", "pread64", "pwrite64",
        "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2", "lseek", "_llseek", "stat", "fstat", "lstat",
        "newfstatat", "fstatat64", "stat64", "fstat64", "lstat64", "statx", "statfs", "fstatfs", "statfs64",
        "fstatfs64", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64",
        "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat",
        "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
        "chown32", "fchown32", "lchown32", "truncate", "ftruncate", "truncate64", "ftruncate64", "fsync",
        "fdatasync", "sync", "syncfs", "sync_file_range", "fcntl", "fcntl64", "dup", "dup2", "dup3", "ioctl",
        "flock", "fallocate", "fadvise64", "fadvise64_64", "sendfile", "sendfile64", "copy_file_range", "splice",
        "tee", "vmsplice", "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
        "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "chdir", "fchdir",
        "getcwd", "chroot", "umask", "utime", "utimes", "utimensat", "futimesat", "mknod", "mknodat",
        "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_init", "fanotify_mark",
        "name_to_handle_at", "open_by_handle_at", "mount", "umount2", "pivot_root", "readahead", "select",
        "_newselect", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
        "epoll_pwait", "epoll_pwait2", "io_setup", "io_submit", "io_getevents", "io_destroy", "io_cancel",
        "io_uring_setup", "io_uring_enter", "io_uring_register",
    )),
    ("network", (
        "socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "send", "recv", "shutdown",
        "setsockopt", "getsockopt", "socketcall", "sethostname", "setdomainname",
    )),
    ("process", (
        "execve", "execveat", "fork", "vfork", "clone", "clone3", "exit", "exit_group", "wait4", "waitid",
        "waitpid", "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getuid32",
        "geteuid32", "getgid32", "getegid32", "setuid", "setgid", "setreuid", "setregid", "setresuid",
        "setresgid", "getresuid", "getresgid", "setuid32", "setgid32", "setresuid32", "setresgid32",
        "getresuid32", "getresgid32", "getgroups", "setgroups", "getgroups32", "setgroups32", "setpgid",
        "getpgid", "getpgrp", "setsid", "getsid", "prctl", "arch_prctl", "set_tid_address", "set_robust_list",
        "get_robust_list", "rseq", "capget", "capset", "getrlimit", "setrlimit", "prlimit64", "ugetrlimit",
        "getrusage", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
        "sched_getscheduler", "sched_setscheduler", "sched_setattr", "sched_getattr", "getpriority",
        "setpriority", "uname", "sysinfo", "personality", "ptrace", "process_vm_readv", "process_vm_writev",
        "unshare", "setns", "seccomp", "pidfd_open", "pidfd_getfd", "kcmp", "getrandom", "set_thread_area",
        "get_thread_area", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "init_module",
        "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "acct", "iopl", "ioperm",
        "swapon", "swapoff", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    )),
    ("memory", (
        "mmap", "mmap2", "munmap", "mprotect", "mremap", "brk", "madvise", "mlock", "mlock2", "munlock",
        "mlockall", "munlockall", "mincore", "msync", "membarrier", "memfd_create", "memfd_secret", "mbind",
        "get_mempolicy", "set_mempolicy", "migrate_pages", "move_pages", "pkey_alloc", "pkey_free",
        "pkey_mprotect", "userfaultfd", "remap_file_pages", "process_madvise",
    )),
    ("signals", (
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending", "rt_sigtimedwait",
        "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaction", "sigprocmask", "sigreturn", "sigsuspend",
        "sigpending", "signal", "sigaltstack", "kill", "tkill", "tgkill", "pause", "signalfd", "signalfd4",
        "pidfd_send_signal", "restart_syscall",
    )),
    ("time", (
        "clock_gettime", "clock_getres", "clock_nanosleep", "clock_settime", "clock_adjtime", "nanosleep",
        "gettimeofday", "settimeofday", "time", "stime", "adjtimex", "times", "alarm", "getitimer", "setitimer",
        "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create",
        "timerfd_settime", "timerfd_gettime", "clock_gettime64", "clock_nanosleep_time64",
    )),
    ("ipc", (
        "pipe", "pipe2", "futex", "futex_waitv", "eventfd", "eventfd2", "shmget", "shmat", "shmdt", "shmctl",
        "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "ipc", "mq_open",
        "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    )),
)  # fmt: skip

ORDER: tuple[str, ...] = (*(kind for kind, _ in KINDS), "other")
KIND_BY_NAME: dict[str, str] = {name: kind for kind, names in KINDS for name in names}


def kind_of(name: str | None) -> str:
    return KIND_BY_NAME.get(name or "", "other")
