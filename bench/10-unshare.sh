# bench/10-unshare.sh: our unshare against util-linux's and a static C floor
# that makes only the syscalls each case needs (bench/floor/unshare-*.c).
section "unshare" "Start-up to exec and back: each case runs /bin/true in new namespaces."

for f in unshare-map-root unshare-pid-proc unshare-five; do build_floor "$f"; done

compare "unshare -r /bin/true" \
  ours "$OURS/unshare -r /bin/true" \
  util-linux "/usr/bin/unshare -r /bin/true" \
  floor "$FLOOR/unshare-map-root /bin/true"

compare "unshare -rmpf --mount-proc /bin/true" \
  ours "$OURS/unshare -rmpf --mount-proc /bin/true" \
  util-linux "/usr/bin/unshare -rmpf --mount-proc /bin/true" \
  floor "$FLOOR/unshare-pid-proc /bin/true"

compare "unshare -Uuinm /bin/true (root)" \
  ours "$OURS/unshare -Uuinm /bin/true" \
  util-linux "/usr/bin/unshare -Uuinm /bin/true" \
  floor "$FLOOR/unshare-five /bin/true"
