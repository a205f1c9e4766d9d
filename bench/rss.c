/* bench/rss.c: run a command and print its peak resident set in KiB.
 * posix_spawn shares our (tiny, static) memory until exec, so the high-water
 * mark the kernel keeps across exec is the command's own, not a launcher's.
 * The command's stdout goes to /dev/null; the figure alone is printed. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    pid_t pid;
    int status;
    struct rusage ru;
    if (argc < 2) {
        fprintf(stderr, "usage: rss COMMAND [ARG...]\n");
        return 2;
    }
    posix_spawn_file_actions_t fa;
    /* The command's output is not ours to print: only the figure is. */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[1], &fa, NULL, argv + 1, environ) != 0) {
        perror(argv[1]);
        return 127;
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 1;
    }
    printf("%ld\n", ru.ru_maxrss);
    return 0;
}
