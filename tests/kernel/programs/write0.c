/* write(1, NULL, 0) and exit with its errno (0 if it succeeded): a profile that denies it with a
 * particular errno can be read off the exit status. */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    long r = syscall(SYS_write, 1, 0, 0);
    return r < 0 ? errno : 0;
}
