/* Calls uname: the exec'd half of execer.c, and (static, -m32) the i386 program. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

int main(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return 2;
    printf("sysname %s\n", u.sysname);
    return strcmp(u.sysname, "Linux") == 0 ? 0 : 3;
}
