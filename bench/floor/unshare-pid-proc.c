/* Floor for `unshare -rmpf --mount-proc PROGRAM`: unshare user, mount and PID
 * namespaces, map the caller to root, fork; the child makes / recursively
 * private, mounts a new proc on /proc and execs; the parent waits and passes
 * the status on. Nothing else. */
#define _GNU_SOURCE
#include "map-root.h"
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	unsigned uid = geteuid(), gid = getegid();
	int status;
	pid_t pid;

	if (argc < 2 || unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0) {
		perror("unshare");
		return 1;
	}
	map_root(uid, gid);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
			perror("mount");
			_exit(1);
		}
		execv(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
