/* mapper-run MAPPER RANGES...: give MAPPER a fresh target to map, the way
 * unshare does: fork a child that unshares its user namespace and waits,
 * run MAPPER CHILD-PID RANGES..., then kill the child. Exits with MAPPER's
 * status, so a refused map fails the bench instead of timing an error. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: mapper-run MAPPER INSIDE OUTSIDE COUNT...\n");
    return 2;
  }
  int ready[2];
  if (pipe(ready) < 0) return 2;
  pid_t target = fork();
  if (target == 0) {
    close(ready[0]);
    if (unshare(CLONE_NEWUSER) < 0) _exit(2);
    if (write(ready[1], "x", 1) != 1) _exit(2);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c;
  if (read(ready[0], &c, 1) != 1) return 2;
  char pid[16];
  snprintf(pid, sizeof pid, "%d", (int)target);
  char **args = calloc(argc + 1, sizeof *args);
  args[0] = argv[1];
  args[1] = pid;
  for (int i = 2; i < argc; i++) args[i] = argv[i];
  pid_t mapper = fork();
  if (mapper == 0) {
    execv(argv[1], args);
    _exit(127);
  }
  int status = 1;
  waitpid(mapper, &status, 0);
  kill(target, SIGKILL);
  waitpid(target, NULL, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
