#!/usr/bin/env bash
# Run a command (the test suite) and fail if it changed the host: hostname,
# what is mounted where (in PID 1's mount namespace), /run/netns, net links.
set -u
snapshot() {
  cat /proc/sys/kernel/hostname
  awk '{print $5, $9, $10}' /proc/1/mountinfo | sort
  ls -A /run/netns 2>/dev/null | sort
  ip -o link 2>/dev/null | awk -F': ' '{print $2}' | sort
}
before=$(snapshot)
"$@"
status=$?
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "leak check: the tests changed the host:" >&2
  diff <(echo "$before") <(echo "$after") >&2
  exit 1
fi
exit $status
