/* A real x32 binary, built by scripts/capture-sample-logs as:
 *     gcc -mx32 -static -nostdlib -O2 -o x32 x32.c
 * No libc (Debian has no x32 libc): _start calls write and exit through the
 * x32 syscall numbers (x86_64 number | 0x40000000). A kernel built without
 * CONFIG_X86_X32_ABI refuses to exec it (ENOEXEC, "Exec format error"). */
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
    static const char msg[] = "hello x32\n";
    sys3(0x40000000L | 1, 1, (long)msg, sizeof msg - 1);   /* write */
    sys3(0x40000000L | 60, 0, 0, 0);                        /* exit */
    for (;;)
        ;
}
