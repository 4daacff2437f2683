/* The container's program (static, alone in its rootfs): prints, and makes a few syscalls
 * whose failure it reports by errno instead of dying, so a denial shows in its output. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
    struct utsname u;

    printf("hello from the container\n");
    printf("getpid: %d\n", (int)getpid());
    if (uname(&u) == 0)
        printf("uname: %s %s\n", u.sysname, u.nodename);
    else
        printf("uname: errno %d (%s)\n", errno, strerror(errno));
    return 0;
}
