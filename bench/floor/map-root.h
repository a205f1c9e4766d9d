/* What the floors that map the caller to root share: write the three files
 * of a new user namespace as `unshare -r` does (uid_map, setgroups deny,
 * gid_map), exiting on the first failure. Included by the floors, each
 * compiled alone (bench/lib.sh build_floor). */
#include <fcntl.h>
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

/* Map `uid` and `gid` (the caller's, read before the unshare) to root. */
static void map_root(unsigned uid, unsigned gid)
{
	char map[64];

	snprintf(map, sizeof map, "0 %u 1\n", uid);
	put("/proc/self/uid_map", map);
	put("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "0 %u 1\n", gid);
	put("/proc/self/gid_map", map);
}
