/* argv[1] (default 50000) getppid calls, made with syscall(2): a burst of cheap records. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 50000;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return 0;
}
