/* The workload of bench/filter-cost: time cheap syscalls in-process, optionally under a
 * seccomp filter it loads itself.
 *
 *   filter-cost FILTER N ROUNDS CALL...
 *
 * FILTER: `none` (whatever filter the process already has, e.g. from `learn enforce`),
 * `allow-all` (a one-instruction SECCOMP_RET_ALLOW filter: the floor any filter costs), or a
 * raw BPF file (struct sock_filter[], as `learn compile` writes it), loaded with flags 0: no
 * SECCOMP_FILTER_FLAG_LOG, so a denied call costs the filter, not an audit record.
 * CALL: getppid, getpgid (getpgid(0)), personality (personality(0xffffffff): a query, no
 * change) or get_kernel_syms (not implemented on x86_64: ENOSYS without a filter, so the
 * call itself costs the bare syscall path).
 *
 * Each call is made N times per round, ROUNDS rounds, the calls interleaved round by round;
 * one line per call: "CALL NS_PER_CALL RET ERRNO" with the best (lowest) round, and the
 * result of the last call (the filter's verdict shows as ERRNO 1 = EPERM). Timed with
 * clock_gettime(CLOCK_MONOTONIC), which the vDSO answers without a syscall. The process pins
 * itself to the CPU it starts on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_get_kernel_syms
#define SYS_get_kernel_syms 177 /* x86_64 */
#endif

struct call {
    const char *name;
    long nr;
    long arg0;
};

static const struct call CALLS[] = {
    {"getppid", SYS_getppid, 0},
    {"getpgid", SYS_getpgid, 0},
    {"personality", SYS_personality, 0xffffffffL},
    {"get_kernel_syms", SYS_get_kernel_syms, 0},
};

static void die(const char *what)
{
    fprintf(stderr, "filter-cost: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void load(struct sock_filter *insns, size_t count)
{
    struct sock_fprog prog = {.len = (unsigned short)count, .filter = insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die("prctl(PR_SET_NO_NEW_PRIVS)");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        die("seccomp(SET_MODE_FILTER)");
}

static void load_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0)
        die(path);
    if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 4096 * 8) {
        fprintf(stderr, "filter-cost: %s: not a BPF program (%lld bytes)\n", path, (long long)st.st_size);
        exit(2);
    }
    struct sock_filter *insns = malloc((size_t)st.st_size);
    if (insns == NULL || read(fd, insns, (size_t)st.st_size) != st.st_size)
        die(path);
    close(fd);
    load(insns, (size_t)st.st_size / sizeof(struct sock_filter));
    free(insns);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: filter-cost none|allow-all|FILE.bpf N ROUNDS CALL...\n");
        return 2;
    }
    const char *filter = argv[1];
    long n = atol(argv[2]), rounds = atol(argv[3]);
    int ncalls = argc - 4;
    const struct call *calls[16];
    double best[16];
    long ret[16];
    int err[16];
    if (n <= 0 || rounds <= 0 || ncalls > 16) {
        fprintf(stderr, "filter-cost: bad N, ROUNDS or too many calls\n");
        return 2;
    }
    for (int c = 0; c < ncalls; c++) {
        calls[c] = NULL;
        for (size_t k = 0; k < sizeof CALLS / sizeof CALLS[0]; k++)
            if (strcmp(argv[4 + c], CALLS[k].name) == 0)
                calls[c] = &CALLS[k];
        if (calls[c] == NULL) {
            fprintf(stderr, "filter-cost: unknown call %s\n", argv[4 + c]);
            return 2;
        }
        best[c] = 1e300;
    }

    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(sched_getcpu(), &cpus);
    if (sched_setaffinity(0, sizeof cpus, &cpus) != 0)
        die("sched_setaffinity");

    if (strcmp(filter, "allow-all") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        load(&allow, 1);
    } else if (strcmp(filter, "none") != 0) {
        load_file(filter);
    }

    for (long r = 0; r < rounds; r++) {
        for (int c = 0; c < ncalls; c++) {
            long nr = calls[c]->nr, arg0 = calls[c]->arg0, last = 0;
            double start = now_ns();
            for (long i = 0; i < n; i++)
                last = syscall(nr, arg0);
            double per_call = (now_ns() - start) / (double)n;
            if (per_call < best[c])
                best[c] = per_call;
            ret[c] = last;
            err[c] = last == -1 ? errno : 0;
        }
    }
    for (int c = 0; c < ncalls; c++)
        printf("%s %.2f %ld %d\n", calls[c]->name, best[c], ret[c], err[c]);
    return 0;
}
