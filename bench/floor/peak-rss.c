/* peak-rss CMD [ARG...]: run CMD and print the peak resident set, in KiB, of
 * it and the children it waited for. A small static program, because the
 * kernel charges a child the resident set of the process it was forked from
 * until it execs (a Python parent would add its own ~14 MiB to every row). */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status, null;
	pid_t pid;

	if (argc < 2)
		return 2;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return 1;
	printf("%ld\n", ru.ru_maxrss);
	return 0;
}
