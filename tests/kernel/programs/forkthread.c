/* Starts a thread and forks a child, each making a syscall no other part makes: the thread
 * sched_yield (then nanosleep, so that the main thread always waits for it in futex: the
 * syscall set must not depend on who wins a race), the child getppid, the parent getpgrp. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *thread_main(void *arg)
{
    struct timespec pause = {0, 50 * 1000 * 1000};
    (void)arg;
    sched_yield();
    nanosleep(&pause, NULL);
    return NULL;
}

int main(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, thread_main, NULL) != 0)
        return 2;
    if (pthread_join(thread, NULL) != 0)
        return 3;
    pid_t pid = fork();
    if (pid < 0)
        return 4;
    if (pid == 0)
        _exit(getppid() > 1 ? 7 : 8);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 5;
    printf("thread joined, child exited %d, pgrp %d\n", WEXITSTATUS(status), getpgrp() > 0);
    return 0;
}
