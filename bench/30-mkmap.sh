# bench/30-mkmap.sh: id maps through the setuid helpers, as an unprivileged
# user (65534) with a test delegation bound over /etc/subuid and /etc/subgid
# in a private mount namespace (the real files are not touched). Ours: our
# unshare with a setuid copy of our binary as newuidmap/newgidmap first on
# PATH; theirs: util-linux's unshare with shadow's helpers (Debian uidmap).

section "mkmap: newuidmap and unshare --map-auto, unprivileged" \
  "As uid 65534 with 'nobody:100000:65536' in /etc/subuid and /etc/subgid. newuidmap is timed with mapper-run, which makes a fresh user namespace for it each time (the same overhead for both rows)."

build_floor mapper-run
MK=$OUT/mkmap
mkdir -p "$MK/suid" "$MK/out"
cp "$OURS/nstools" "$MK/suid/newuidmap"
cp "$OURS/nstools" "$MK/suid/newgidmap"
chmod 4755 "$MK/suid/newuidmap" "$MK/suid/newgidmap"
printf 'nobody:100000:65536\n' >"$MK/subuid"
printf 'nobody:100000:65536\n' >"$MK/subgid"
chmod 644 "$MK/subuid" "$MK/subgid"
# A null device of our own, bound over /dev/null in the private namespace
# should something on the host have replaced it with a regular file.
mknod -m 666 "$MK/null" c 1 3 2>/dev/null || true
chmod 777 "$MK/out"
chmod a+rx "$MK" "$MK/suid" "$FLOOR"

# The cases run as 65534 in a private mount namespace; compare's rows come
# back on stdout like any other section's.
MK=$MK unshare -m --propagation=private bash -c '
  mount --bind "$MK/subuid" /etc/subuid && mount --bind "$MK/subgid" /etc/subgid || exit 1
  [ -c /dev/null ] || mount --bind "$MK/null" /dev/null
  exec setpriv --reuid=65534 --regid=65534 --clear-groups -- env \
    OUT="$MK/out" OURS="$OURS" FLOOR="$FLOOR" MK="$MK" BENCH_DIR="$BENCH_DIR" \
    BENCH_RUNS="${BENCH_RUNS:-200}" BENCH_WARMUP="${BENCH_WARMUP:-10}" PATH=/usr/bin:/bin \
    bash -c "
      cd /
      . \"\$BENCH_DIR/lib.sh\"
      compare \"newuidmap 0 100000 65536\" \
        ours \"\$FLOOR/mapper-run \$MK/suid/newuidmap 0 100000 65536\" \
        shadow \"\$FLOOR/mapper-run /usr/bin/newuidmap 0 100000 65536\"
      compare \"newgidmap 0 100000 65536\" \
        ours \"\$FLOOR/mapper-run \$MK/suid/newgidmap 0 100000 65536\" \
        shadow \"\$FLOOR/mapper-run /usr/bin/newgidmap 0 100000 65536\"
      compare \"unshare --map-auto /bin/true\" \
        ours \"env PATH=\$MK/suid:/usr/bin:/bin \$OURS/unshare --map-auto /bin/true\" \
        util-linux+shadow \"env PATH=/usr/bin:/bin /usr/bin/unshare --map-auto /bin/true\"
    "
' || printf '| mkmap | (failed to set up the unprivileged run) | | | | | |\n'
