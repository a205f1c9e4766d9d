/* The floor for `nsenter -t PID -a /bin/true`: open the target's namespace
 * files named on the command line, setns(2) into each in that order, fork,
 * exec /bin/true in the child and wait. Nothing else.
 * Usage: nsenter PID KIND... */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[64];
	int fds[8], n = 0, status;
	if (argc < 3 || argc > 10)
		return 2;
	for (int i = 2; i < argc; i++) {
		snprintf(path, sizeof(path), "/proc/%s/ns/%s", argv[1], argv[i]);
		if ((fds[n++] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return perror(path), 1;
	}
	for (int i = 0; i < n; i++)
		if (setns(fds[i], 0) < 0)
			return perror("setns"), 1;
	pid_t child = fork();
	if (child == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
