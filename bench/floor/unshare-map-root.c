/* Floor for `unshare -r PROGRAM`: unshare a user namespace, map the caller
 * to root (uid_map, setgroups deny, gid_map), exec. Nothing else. */
#define _GNU_SOURCE
#include "map-root.h"
#include <sched.h>

int main(int argc, char **argv)
{
	unsigned uid = geteuid(), gid = getegid();

	if (argc < 2 || unshare(CLONE_NEWUSER) < 0) {
		perror("unshare");
		return 1;
	}
	map_root(uid, gid);
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
