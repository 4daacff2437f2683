/* Built by scripts/capture-sample-logs as: gcc -m32 -static -O2 -o hello32 hello32.c
 * A static i386 binary: every syscall it makes is logged with arch=40000003. */
#include <unistd.h>

int main(void)
{
    write(1, "hello\n", 6);
    return 0;
}
