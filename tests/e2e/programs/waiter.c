/* The container's program for learn show --pid: prints like hello.c, then waits in pause(2)
 * for good (with an argument it exits instead, so learn run --oci-bundle can learn it). */
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct utsname u;
    printf("hello from the container\n");
    printf("getpid: %d\n", (int)getpid());
    if (uname(&u) == 0) printf("uname: %s\n", u.sysname);
    fflush(stdout);
    if (argc > 1) return 0;
    for (;;) pause();
}
