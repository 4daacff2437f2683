/* i386, no libc: socket(2) directly and through socketcall(2), each result on stdout.
 * Built with -m32 -static -nostdlib, so the only syscalls are the ones below (and execve). */

static long sys3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static void put(const char *s) {
    long n = 0;
    while (s[n])
        n++;
    sys3(4, 1, (long)s, n); /* write */
}

static void report(const char *what, long ret) {
    char digits[12];
    int i = sizeof digits - 1;
    unsigned long v = ret < 0 ? -ret : 0;
    put(what);
    if (ret >= 0) {
        put(" ok\n");
        return;
    }
    digits[i] = 0;
    do
        digits[--i] = '0' + v % 10;
    while ((v /= 10) && i > 0);
    put(" errno ");
    put(digits + i);
    put("\n");
}

void _start(void) {
    long unix_args[3] = {1, 1, 0}; /* AF_UNIX, SOCK_STREAM, 0 */
    long inet_args[3] = {2, 1, 0}; /* AF_INET, SOCK_STREAM, 0 */
    report("socket(AF_UNIX)", sys3(359, 1, 1, 0));
    report("socket(AF_INET)", sys3(359, 2, 1, 0));
    report("socketcall(SYS_SOCKET, AF_UNIX)", sys3(102, 1, (long)unix_args, 0));
    report("socketcall(SYS_SOCKET, AF_INET)", sys3(102, 1, (long)inet_args, 0));
    sys3(1, 0, 0, 0); /* exit */
}
