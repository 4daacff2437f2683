/* Makes getuid, then execs the program named by argv[1] (which calls uname). */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    printf("uid %d\n", getuid() == geteuid());
    fflush(stdout);
    execv(argv[1], argv + 1);
    return 127;
}
