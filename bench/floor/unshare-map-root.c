/* Floor for `unshare -r PROGRAM`: unshare a user namespace, map the caller
 * to root (uid_map, setgroups deny, gid_map), exec. Nothing else. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	char map[64];
	unsigned uid = geteuid(), gid = getegid();

	if (argc < 2 || unshare(CLONE_NEWUSER) < 0) {
		perror("unshare");
		return 1;
	}
	snprintf(map, sizeof map, "0 %u 1\n", uid);
	put("/proc/self/uid_map", map);
	put("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "0 %u 1\n", gid);
	put("/proc/self/gid_map", map);
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
