"""What a small devmode snap might do: each call harmless, most fail on purpose.

Captured with `learn run --save-log RAW -- python3 sample-logs/src/devmode_demo.py`, then
`scripts/make-wild-logs --devmode RAW` keeps what snapd's devmode filter would have logged.
"""

import contextlib
import ctypes
import fcntl
import os
import socket
import termios

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(314, 0, 0, 0)  # sched_setattr(0, NULL, 0): EINVAL
os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.close()
for proto in (15, 9):  # NETLINK_KOBJECT_UEVENT, NETLINK_AUDIT
    with contextlib.suppress(OSError):
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto).close()
r, w = os.openpty()
with contextlib.suppress(OSError):
    fcntl.ioctl(r, termios.TIOCSTI, b"x")
libc.syscall(165, None, None, None, 0, None)  # mount(NULL, NULL, ...): EFAULT/EINVAL
libc.syscall(248, None, None, None, 0, 0)  # add_key(NULL...): EFAULT
libc.syscall(101, 16, 999999, 0, 0)  # ptrace(PTRACE_ATTACH, 999999): ESRCH
