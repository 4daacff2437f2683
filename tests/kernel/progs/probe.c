/* Says hello; with "probe" it also calls sysinfo(2), which its learning run never made. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>

int main(int argc, char **argv) {
    printf("hello\n");
    if (argc > 1 && strcmp(argv[1], "probe") == 0) {
        struct sysinfo si;
        int rc = sysinfo(&si);
        printf("sysinfo: %d errno %d\n", rc, rc ? errno : 0);
    }
    return 0;
}
