/* Dies of a signal: argv[1] is "TERM" (kill(getpid(), SIGTERM)) or "KILL" (raise(SIGKILL)). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    printf("dying\n");
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "KILL") == 0)
        raise(SIGKILL);
    else
        kill(getpid(), SIGTERM);
    return 0;
}
