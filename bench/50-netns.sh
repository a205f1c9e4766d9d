# bench/50-netns.sh: netns against iproute2's `ip netns` and `ip` wiring.
# Sourced by bench/run.sh. Everything runs inside a private mount namespace
# with a tmpfs over /run, so /run/netns starts empty and every namespace made
# here vanishes with it; the wiring touches only namespaces made here.

NETNS_BIG_RUNS=${NETNS_BIG_RUNS:-5}
section "netns" "Named network namespaces and their wiring, against iproute2 ($(ip -V 2>&1 | head -1)). \
Each case runs in a private mount namespace with an empty /run/netns. The 1,000-namespace \
add+delete cases run $NETNS_BIG_RUNS times (after one warm-up); 'classic' builds two hosts \
and a router namespace with IPv4 addresses, forwarding and routes, then deletes them."

NETNS_S=$OUT/netns
mkdir -p "$NETNS_S"

cat >"$NETNS_S/addel.sh" <<'SH'
# addel.sh batch|loop|ip: add then delete 1,000 named namespaces.
names=$(seq -f 'b%g' 1000)
case $1 in
  batch) "$OURS/netns" add $names && "$OURS/netns" delete $names ;;
  loop) for n in $names; do "$OURS/netns" add "$n"; done
        for n in $names; do "$OURS/netns" delete "$n"; done ;;
  ip) for n in $names; do ip netns add "$n"; done
      for n in $names; do ip netns delete "$n"; done ;;
esac
SH

cat >"$NETNS_S/addloop.sh" <<'SH'
# addloop.sh ours|ip: add 1,000 named namespaces, one process each.
tool=ip; [ "$1" = ours ] && tool=$OURS/netns
for n in $(seq -f 'b%g' 1000); do
  if [ "$1" = ours ]; then "$tool" add "$n"; else ip netns add "$n"; fi
done
SH

cat >"$NETNS_S/classic.sh" <<'SH'
# classic.sh ours|ip: ns1 - r - ns2, addresses, forwarding, routes; then delete.
set -e
if [ "$1" = ours ]; then
  n="$OURS/netns"
  $n add ns1 ns2 r
  $n link ns1 r --addr 10.10.10.2/24,10.10.10.1/24
  $n link ns2 r --addr 10.10.20.2/24,10.10.20.1/24
  $n forward on r
  $n route ns1 default via 10.10.10.1
  $n route ns2 default via 10.10.20.1
  $n delete ns1 ns2 r
else
  for ns in ns1 ns2 r; do ip netns add $ns; ip -n $ns link set lo up; done
  ip -n ns1 link add v-r type veth peer name v-ns1 netns r
  ip -n ns2 link add v-r type veth peer name v-ns2 netns r
  ip -n ns1 link set v-r up; ip -n ns2 link set v-r up
  ip -n r link set v-ns1 up; ip -n r link set v-ns2 up
  ip -n ns1 addr add 10.10.10.2/24 dev v-r; ip -n r addr add 10.10.10.1/24 dev v-ns1
  ip -n ns2 addr add 10.10.20.2/24 dev v-r; ip -n r addr add 10.10.20.1/24 dev v-ns2
  ip netns exec r sysctl -qw net.ipv4.ip_forward=1
  ip -n ns1 route add default via 10.10.10.1
  ip -n ns2 route add default via 10.10.20.1
  for ns in ns1 ns2 r; do ip netns delete $ns; done
fi
SH

NETNS_BIG_RUNS=$NETNS_BIG_RUNS /usr/bin/unshare -m --propagation private bash -c '
  . "$BENCH_DIR/lib.sh"
  mount -t tmpfs tmpfs /run && mkdir /run/netns || exit 1
  S=$OUT/netns
  BENCH_RUNS=$NETNS_BIG_RUNS BENCH_WARMUP=1 compare "add+delete 1,000" \
    "ours, one call each" "bash $S/addel.sh batch" \
    "ours, a loop" "bash $S/addel.sh loop" \
    "ip netns, a loop" "bash $S/addel.sh ip"
  # Adding alone: every run starts from an empty /run/netns. hyperfine
  # --prepare (untimed) deletes what the last run added, then leaves the
  # kernel 3 s to tear those namespaces down (it does so in the background,
  # and would otherwise slow the run being timed).
  json=$OUT/netns-add.json
  hyperfine -N --style none --warmup 1 --runs "$NETNS_BIG_RUNS" \
    --prepare "bash -c \"$OURS/netns delete --all; sleep 3\"" --export-json "$json" \
    -n "ours, one call" "$OURS/netns add $(seq -f "b%g" 1000 | tr "\n" " ")" \
    -n "ours, a loop" "bash $S/addloop.sh ours" \
    -n "ip netns, a loop" "bash $S/addloop.sh ip" >/dev/null 2>"$json.err" &&
  python3 - "$json" <<"PY"
import json, statistics, sys
base = None
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"]); med = statistics.median(t)
    q = statistics.quantiles(t, n=4) if len(t) > 1 else [med] * 3
    base = base or med
    ms = lambda s: f"{s * 1000:.3f} ms"
    name = r["command"] if len(r["command"]) < 40 else r["command"][:37] + "..."
    print(f"| add 1,000 | {name} | {ms(med)} | {ms(q[2] - q[0])} | {ms(t[0])} | {base / med:.2f} | |")
PY
  "$OURS/netns" delete --all
  "$OURS/netns" add bx
  compare "exec NAME /bin/true" \
    "ours" "$OURS/netns exec bx /bin/true" \
    "ip netns exec" "ip netns exec bx /bin/true"
  "$OURS/netns" add $(seq -f "l%g" 999)
  compare "list (1,000 names)" \
    "ours" "$OURS/netns list" \
    "ip netns list" "ip netns list"
  "$OURS/netns" delete --all
  compare "classic scenario" \
    "ours" "bash $S/classic.sh ours" \
    "ip" "bash $S/classic.sh ip"
'
