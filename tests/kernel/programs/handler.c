/* The baseline's cases: a SIGTERM handler that returns, and an error exit after a signal death.
 *   handler wait TICKS  say "ready", sleep TICKS x 50 ms or until SIGTERM; exit 7 if the
 *                       handler ran (and returned, through rt_sigreturn), else 0
 *   handler die         SIGKILL itself: the run shows no exit_group
 *   handler fail        exit(1): the error exit a profile learned from `die` must allow */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_term(int sig) { (void)sig; got = 1; }

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    if (argc > 1 && strcmp(argv[1], "die") == 0)
        kill(getpid(), SIGKILL);
    if (argc > 1 && strcmp(argv[1], "fail") == 0)
        exit(1);
    int ticks = argc > 2 ? atoi(argv[2]) : 2;
    if (write(1, "ready\n", 6) != 6)
        return 2;
    struct timespec tick = {0, 50 * 1000 * 1000};
    for (int i = 0; i < ticks && !got; i++)
        nanosleep(&tick, NULL);
    return got ? 7 : 0;
}
