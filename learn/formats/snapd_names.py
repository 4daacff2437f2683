"""snap-seccomp's symbolic argument values, as data.

The names are those of `seccompResolver` in canonical/snapd cmd/snap-seccomp/main.go
(@ bee548f7470643ffd5c94a75797a6cef83e29ff6). snap-seccomp takes the values from the C headers
of the machine it is built for; these are the Linux UAPI / glibc values on x86_64 (and on every
other ABI for all but TIOCSTI/TIOCLINUX on ppc and mips, and O_TMPFILE on a few: read profiles
for those hosts with care). AF_IB, AF_MPLS, AF_QIPCRTR, AF_XDP, AF_CONN and PR_CAP_AMBIENT* use
snap-seccomp's own fallback #defines. tests/unit/test_formats_snapd.py checks the ones Python's
socket, os, termios and stat modules also know against this host.
"""

from __future__ import annotations

_AF = {
    "UNIX": 1, "LOCAL": 1, "INET": 2, "AX25": 3, "IPX": 4, "APPLETALK": 5, "NETROM": 6,
    "BRIDGE": 7, "ATMPVC": 8, "X25": 9, "INET6": 10, "ROSE": 11, "NETBEUI": 13, "SECURITY": 14,
    "KEY": 15, "NETLINK": 16, "PACKET": 17, "ASH": 18, "ECONET": 19, "RDS": 21, "SNA": 22,
    "IRDA": 23, "PPPOX": 24, "WANPIPE": 25, "LLC": 26, "IB": 27, "MPLS": 28, "CAN": 29, "TIPC": 30,
    "BLUETOOTH": 31, "IUCV": 32, "RXRPC": 33, "ISDN": 34, "PHONET": 35, "IEEE802154": 36,
    "CAIF": 37, "ALG": 38, "NFC": 39, "VSOCK": 40, "QIPCRTR": 42, "XDP": 44, "CONN": 123,
}  # fmt: skip

_PR = {
    "SET_PDEATHSIG": 1, "GET_PDEATHSIG": 2, "GET_DUMPABLE": 3, "SET_DUMPABLE": 4,
    "GET_UNALIGN": 5, "SET_UNALIGN": 6, "GET_KEEPCAPS": 7, "SET_KEEPCAPS": 8, "GET_FPEMU": 9,
    "SET_FPEMU": 10, "GET_FPEXC": 11, "SET_FPEXC": 12, "GET_TIMING": 13, "SET_TIMING": 14,
    "SET_NAME": 15, "GET_NAME": 16, "GET_ENDIAN": 19, "SET_ENDIAN": 20, "GET_SECCOMP": 21,
    "SET_SECCOMP": 22, "CAPBSET_READ": 23, "CAPBSET_DROP": 24, "GET_TSC": 25, "SET_TSC": 26,
    "GET_SECUREBITS": 27, "SET_SECUREBITS": 28, "SET_TIMERSLACK": 29, "GET_TIMERSLACK": 30,
    "TASK_PERF_EVENTS_DISABLE": 31, "TASK_PERF_EVENTS_ENABLE": 32, "MCE_KILL": 33,
    "MCE_KILL_GET": 34, "SET_MM": 35, "SET_CHILD_SUBREAPER": 36, "GET_CHILD_SUBREAPER": 37,
    "SET_NO_NEW_PRIVS": 38, "GET_NO_NEW_PRIVS": 39, "GET_TID_ADDRESS": 40, "SET_THP_DISABLE": 41,
    "GET_THP_DISABLE": 42, "MPX_ENABLE_MANAGEMENT": 43, "MPX_DISABLE_MANAGEMENT": 44,
    "CAP_AMBIENT": 47, "CAP_AMBIENT_IS_SET": 1, "CAP_AMBIENT_RAISE": 2, "CAP_AMBIENT_LOWER": 3,
    "CAP_AMBIENT_CLEAR_ALL": 4, "SET_PTRACER": 0x59616D61,
    "SET_MM_START_CODE": 1, "SET_MM_END_CODE": 2, "SET_MM_START_DATA": 3, "SET_MM_END_DATA": 4,
    "SET_MM_START_STACK": 5, "SET_MM_START_BRK": 6, "SET_MM_BRK": 7, "SET_MM_ARG_START": 8,
    "SET_MM_ARG_END": 9, "SET_MM_ENV_START": 10, "SET_MM_ENV_END": 11, "SET_MM_AUXV": 12,
    "SET_MM_EXE_FILE": 13,
}  # fmt: skip

_NETLINK = {
    "ROUTE": 0, "USERSOCK": 2, "FIREWALL": 3, "SOCK_DIAG": 4, "INET_DIAG": 4, "NFLOG": 5,
    "XFRM": 6, "SELINUX": 7, "ISCSI": 8, "AUDIT": 9, "FIB_LOOKUP": 10, "CONNECTOR": 11,
    "NETFILTER": 12, "IP6_FW": 13, "DNRTMSG": 14, "KOBJECT_UEVENT": 15, "GENERIC": 16,
    "SCSITRANSPORT": 18, "ECRYPTFS": 19, "RDMA": 20, "CRYPTO": 21,
}  # fmt: skip

_OTHER = {
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5,
    "SOCK_PACKET": 10,
    "PRIO_PROCESS": 0, "PRIO_PGRP": 1, "PRIO_USER": 2,
    "CLONE_NEWNS": 0x20000, "CLONE_NEWUTS": 0x4000000, "CLONE_NEWIPC": 0x8000000,
    "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000, "CLONE_NEWNET": 0x40000000,
    "TIOCSTI": 0x5412, "TIOCLINUX": 0x541C,
    "Q_SYNC": 0x800001, "Q_QUOTAON": 0x800002, "Q_QUOTAOFF": 0x800003, "Q_GETFMT": 0x800004,
    "Q_GETINFO": 0x800005, "Q_SETINFO": 0x800006, "Q_GETQUOTA": 0x800007, "Q_SETQUOTA": 0x800008,
    "Q_XQUOTAON": 0x5801, "Q_XQUOTAOFF": 0x5802, "Q_XGETQUOTA": 0x5803, "Q_XSETQLIM": 0x5804,
    "Q_XGETQSTAT": 0x5805, "Q_XQUOTARM": 0x5806,
    "S_IFREG": 0o100000, "S_IFCHR": 0o20000, "S_IFBLK": 0o60000, "S_IFIFO": 0o10000,
    "S_IFSOCK": 0o140000, "S_ISUID": 0o4000, "S_ISGID": 0o2000,
    "PTRACE_ATTACH": 16, "PTRACE_DETACH": 17, "PTRACE_GETREGS": 12, "PTRACE_GETFPREGS": 14,
    "PTRACE_GETFPXREGS": 18, "PTRACE_GETREGSET": 0x4204, "PTRACE_PEEKDATA": 2,
    "PTRACE_PEEKUSR": 3, "PTRACE_PEEKUSER": 3, "PTRACE_CONT": 7,
    "KCMP_FILE": 0, "KCMP_VM": 1, "KCMP_FILES": 2, "KCMP_FS": 3, "KCMP_SIGHAND": 4, "KCMP_IO": 5,
    "KCMP_SYSVSEM": 6, "KCMP_EPOLL_TFD": 7,
    # snap-seccomp maps O_NOTIFICATION_PIPE to O_EXCL, as the kernel does.
    "O_NOTIFICATION_PIPE": 0o200, "O_CREAT": 0o100, "O_TMPFILE": 0o20200000,
}  # fmt: skip

CONSTANTS: dict[str, int] = (
    {f"{p}_{k}": v for k, v in _AF.items() for p in ("AF", "PF")}
    | {f"PR_{k}": v for k, v in _PR.items()}
    | {f"NETLINK_{k}": v for k, v in _NETLINK.items()}
    | _OTHER
)

# snap-seccomp's syscallsWithNegArgsMaskHi32: ids and lengths taken as 32-bit, so -1 is allowed
# and every comparison becomes MASKED_EQ(0xffffffff, value); only equality is accepted.
NEG_ARGS_MASK_HI32 = frozenset(
    {
        "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "setgid",
        "setgid32", "setregid", "setregid32", "setresgid", "setresgid32", "setreuid",
        "setreuid32", "setresuid", "setresuid32", "setuid", "setuid32", "copy_file_range",
    }
)  # fmt: skip
