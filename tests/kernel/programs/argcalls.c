/* The calls argument-level learning must tell apart (issue 9). Always makes the harmless ones:
 * socket(AF_UNIX), socket(AF_INET, SOCK_DGRAM), ioctl(TCGETS), clone without namespace flags,
 * prctl(PR_SET_NAME). With "probe" it then tries the ones a learned profile must deny.
 * Each line: NAME errno N (0 when the call succeeded). Raw syscall(2) throughout, so a -m32
 * build makes the same calls (no socketcall(2)). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <linux/netlink.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif

static void report(const char *what, long ret) {
    printf("%s errno %d\n", what, ret < 0 ? errno : 0);
    fflush(stdout);
    if (ret > 2 && strncmp(what, "socket", 6) == 0)
        close((int)ret);
}

static long raw_clone(unsigned long flags) {
    long pid = syscall(SYS_clone, flags, 0L, 0L, 0L, 0L);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return pid;
}

int main(int argc, char **argv) {
    struct termios tio;
    char c = 'x';
    report("socket_unix", syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    report("socket_inet_dgram", syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0));
    report("ioctl_tcgets", syscall(SYS_ioctl, 0, TCGETS, &tio));
    report("clone_plain", raw_clone(SIGCHLD));
    report("prctl_set_name", syscall(SYS_prctl, PR_SET_NAME, "argcalls", 0L, 0L, 0L));
    if (argc < 2 || strcmp(argv[1], "probe") != 0)
        return 0;
    report("socket_packet", syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0));
    report("socket_alg", syscall(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0));
    report("socket_netlink", syscall(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
    report("socket_inet_stream", syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
    report("ioctl_tiocsti", syscall(SYS_ioctl, 0, TIOCSTI, &c));
#if defined(__x86_64__) && !defined(__ILP32__)
    report("ioctl_tiocsti_high", syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c));
    report("ioctl_tcgets_high", syscall(SYS_ioctl, 0, (1UL << 32) | TCGETS, &tio));
#endif
    report("clone_newuser", raw_clone(CLONE_NEWUSER | SIGCHLD));
    report("unshare_newns", syscall(SYS_unshare, CLONE_NEWNS));
    report("prctl_set_seccomp", syscall(SYS_prctl, PR_SET_SECCOMP, 2L, 0L, 0L, 0L));
    return 0;
}
