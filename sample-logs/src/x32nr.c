/* An ordinary x86_64 binary that issues syscalls with x32 numbers, built by
 * scripts/capture-sample-logs as:
 *     gcc -static -nostdlib -O2 -o x32nr x32nr.c
 * Seccomp sees the number before the kernel rejects it, so the SECCOMP record
 * is exactly what a real x32 process would produce (arch=c000003e, syscall
 * with bit 0x40000000 set) even on a kernel without CONFIG_X86_X32_ABI, where
 * the call then fails with ENOSYS. On such a kernel the program falls back to
 * the plain x86_64 numbers, so it still prints and exits 0. */
static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile ("syscall"
                      : "=a"(r)
                      : "a"(n), "D"(a), "S"(b), "d"(c)
                      : "rcx", "r11", "memory");
    return r;
}

void _start(void)
{
    static const char msg[] = "hello x32nr\n";
    if (sys3(0x40000000L | 1, 1, (long)msg, sizeof msg - 1) < 0)   /* x32 write */
        sys3(1, 1, (long)msg, sizeof msg - 1);                      /* x86_64 write */
    sys3(0x40000000L | 60, 0, 0, 0);                                /* x32 exit */
    sys3(60, 0, 0, 0);                                              /* x86_64 exit */
    for (;;)
        ;
}
