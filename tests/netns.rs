//! `netns` run for real. Every test works inside a private mount namespace
//! of its own with a fresh tmpfs over /run (so /run/netns is empty and
//! vanishes with the test, namespaces and all), and wires only namespaces it
//! made. iproute2 is the oracle: what `ip` sees is what the kernel recorded.

mod common;

use common::*;

/// A script run as root in a private mount namespace with an empty
/// /run/netns; `set -eu`, so a failing step fails the test.
fn private(script: &str) -> Run {
    private_in("-m --propagation private", script)
}

/// The same, in a network namespace of its own too: for what reads or
/// changes the caller's own namespace (its table of namespace ids).
fn private_with_net(script: &str) -> Run {
    private_in("-m -n --propagation private", script)
}

fn private_in(unshare_args: &str, script: &str) -> Run {
    private_run(sh, unshare_args, script)
}

/// The same in a PID namespace of its own too (bash is PID 1): for what
/// checks that no process of ours is left.
fn private_with_pid(script: &str) -> Run {
    private_in("-m -p -f --mount-proc --propagation private", script)
}

/// The same as uid 65534, root only inside a user namespace of its own.
fn private_as_nobody(script: &str) -> Run {
    private_run(sh_as_nobody, "-Urm --propagation private", script)
}

/// Run `script` through `runner` under `unshare UNSHARE_ARGS`, with a tmpfs
/// on /run and an empty /run/netns, so the host's are never touched.
fn private_run(runner: fn(&str) -> Run, unshare_args: &str, script: &str) -> Run {
    let dir = scratch("netns");
    let file = dir.join("t.sh");
    std::fs::write(
        &file,
        format!("set -eu\nmount -t tmpfs tmpfs /run\nmkdir /run/netns\n{script}\n"),
    )
    .unwrap();
    common::set_mode(&file, 0o644);
    let r = runner(&format!(
        "exec /usr/bin/unshare {unshare_args} bash {}",
        file.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

// ---- ip netns compatibility -------------------------------------------------

#[test]
fn netns_add_is_seen_by_ip_netns_list_and_exec() {
    let r = private(
        "netns add blue green
         ip netns list | sort
         echo ---
         ip netns exec blue ip -o link | awk -F': ' '{print $2}'
         echo ---
         a=$(ip netns exec blue readlink /proc/self/ns/net)
         b=$(ip netns exec green readlink /proc/self/ns/net)
         h=$(readlink /proc/self/ns/net)
         [ \"$a\" != \"$b\" ] && [ \"$a\" != \"$h\" ] && echo distinct",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "blue\ngreen\n---\nlo\n---\ndistinct\n"
    );
}

#[test]
fn ip_netns_add_is_seen_by_our_list_and_exec() {
    let r = private(
        "ip netns add red
         netns list
         ours=$(netns exec red readlink /proc/self/ns/net)
         theirs=$(ip netns exec red readlink /proc/self/ns/net)
         [ \"$ours\" = \"$theirs\" ] && echo same
         [ \"$ours\" = \"net:[$(stat -L -c %i /run/netns/red)]\" ] && echo file",
    );
    assert_eq!(r.assert_ok().stdout, "red\nsame\nfile\n");
}

#[test]
fn netns_list_and_list_id_print_what_ip_prints() {
    let r = private_with_net(
        "netns add a b c
         ip netns set a 5
         netns set b auto
         netns set c 9
         diff <(netns list) <(ip netns list) && echo list-same
         diff <(netns list-id) <(ip netns list-id) && echo list-id-same
         diff <(netns list-id nsid 9) <(ip netns list-id nsid 9) && echo filter-same
         ip -n a netns set b 7
         netns exec a netns set c 8
         for args in 'target-nsid 5' 'target-nsid 5 nsid 0' 'nsid 5 target-nsid 5' 'nsid 9'; do
           diff <(netns list-id $args) <(ip netns list-id $args) || echo \"differs: $args\"
         done
         netns list-id target-nsid 3 2>/dev/null || echo bad-target
         netns list | grep -x 'a (id: 5)'
         netns list-id nsid 9
         /usr/bin/unshare -n sleep 30 & held=$!
         trap 'kill $held 2>/dev/null' EXIT
         for i in $(seq 200); do
           [ \"$(readlink /proc/$held/ns/net)\" != \"$(readlink /proc/self/ns/net)\" ] && break; sleep 0.05
         done
         netns attach tmp $held; netns set tmp 7; netns delete tmp
         diff <(netns list-id) <(ip netns list-id) && echo unnamed-same",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "list-same\nlist-id-same\nfilter-same\nbad-target\na (id: 5)\nnsid 9 (iproute2 netns name: c)\nunnamed-same\n"
    );
}

#[test]
fn netns_set_refuses_a_bad_id() {
    let r = private("netns add a; netns set a -3 || echo rc=$?; netns set a x || echo rc=$?");
    assert_eq!(r.assert_ok().stdout, "rc=1\nrc=1\n");
    assert!(r.stderr.contains("invalid nsid '-3'"), "{}", r.stderr);
}

#[test]
fn netns_pids_identify_and_attach_agree_with_ip() {
    let r = private(
        "netns add p
         ip netns exec p sleep 30 & inner=$!
         /usr/bin/unshare -n sleep 30 & other=$!
         trap 'kill $inner $other 2>/dev/null' EXIT
         for i in $(seq 200); do
           [ \"$(readlink /proc/$inner/ns/net)\" != \"$(readlink /proc/self/ns/net)\" ] &&
           [ \"$(readlink /proc/$other/ns/net)\" != \"$(readlink /proc/self/ns/net)\" ] && break
           sleep 0.05
         done
         netns pids p | grep -qx $inner && echo pids
         [ \"$(netns identify $inner)\" = p ] && echo identify
         [ \"$(ip netns identify $inner)\" = p ] && echo ip-identify
         netns attach q $other
         [ \"$(ip netns identify $other)\" = q ] && echo attach
         netns attach q2 $other
         [ \"$(netns identify $other)\" = \"$(ip netns identify $other)\" ] && echo identify-same
         [ \"$(stat -L -c %i /run/netns/q)\" = \"$(stat -L -c %i /proc/$other/ns/net)\" ] && echo inode
         [ -z \"$(netns identify)\" ] && echo self-unnamed",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "pids\nidentify\nip-identify\nattach\nidentify-same\ninode\nself-unnamed\n"
    );
}

#[test]
fn netns_exec_sees_etc_netns_files_and_its_own_sys() {
    // /etc is replaced (in this mount namespace only) by a copy we control.
    let r = private(
        "etc=$(mktemp -d /run/etc.XXXX)
         cp /etc/ld.so.cache $etc/ 2>/dev/null || true
         echo 'nameserver 192.0.2.1' > $etc/resolv.conf
         mkdir -p $etc/netns/dns
         echo 'nameserver 192.0.2.53' > $etc/netns/dns/resolv.conf
         mount --bind $etc /etc
         netns add dns other
         netns link dns:inside other
         netns exec dns cat /etc/resolv.conf
         ip netns exec dns cat /etc/resolv.conf
         cat /etc/resolv.conf
         netns exec dns ls /sys/class/net | sort | tr '\\n' ' '; echo
         ip netns exec dns ls /sys/class/net | sort | tr '\\n' ' '; echo",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "nameserver 192.0.2.53\nnameserver 192.0.2.53\nnameserver 192.0.2.1\ninside lo \ninside lo \n"
    );
}

#[test]
fn netns_exec_passes_the_command_status_on() {
    let r = private(
        "netns add s
         netns exec s sh -c 'exit 3' || echo rc=$?
         netns exec s no-such-command-x || echo rc=$?
         netns exec nope true || echo rc=$?",
    );
    assert_eq!(r.assert_ok().stdout, "rc=3\nrc=127\nrc=1\n");
    assert!(
        r.stderr.contains("network namespace 'nope'"),
        "{}",
        r.stderr
    );
}

#[test]
fn netns_exec_all_and_delete_all_cover_every_name() {
    let r = private(
        "netns add x y
         netns exec --all sh -c 'readlink /proc/self/ns/net' | grep -c 'net:'
         netns exec -all true | grep -c '^netns: '
         diff <(netns exec --all echo hi) <(ip -all netns exec echo hi) && echo same-as-ip
         netns delete -all
         ls -A /run/netns | wc -l
         netns add z w
         netns delete --all
         ls -A /run/netns | wc -l
         grep -c ' /run/netns/' /proc/self/mountinfo || true",
    );
    assert_eq!(r.assert_ok().stdout, "2\n2\nsame-as-ip\n0\n0\n0\n");
}

#[test]
fn netns_run_dir_is_prepared_as_a_shared_mount() {
    let r = private(
        "netns add one
         # The last mount on /run/netns is the one on top (a host's own may lie below).
         awk '$5 == \"/run/netns\" {l=$0} END {print l}' /proc/self/mountinfo |
           awk '{for (i=7; $i != \"-\"; i++) if ($i ~ /^shared:/) s=\"shared\"; print $(i+1), s}'",
    );
    assert_eq!(r.assert_ok().stdout, "tmpfs shared\n");
}

#[test]
fn netns_monitor_reports_adds_and_deletes() {
    let r = private(
        "out=$(mktemp /run/mon.XXXX)
         netns monitor > $out & mon=$!
         trap 'kill $mon 2>/dev/null' EXIT
         # Bounded wait until the watch is in place (its fd shows an inotify wd).
         for i in $(seq 200); do grep -qs '^inotify wd' /proc/$mon/fdinfo/* && break; sleep 0.02; done
         netns add watched
         netns delete watched
         for i in $(seq 100); do grep -q delete $out && break; sleep 0.05; done
         cat $out",
    );
    assert_eq!(r.assert_ok().stdout, "add watched\ndelete watched\n");
}

// ---- names and safety ---------------------------------------------------------

#[test]
fn netns_add_refuses_bad_names_and_leaves_nothing() {
    let long = "n".repeat(256);
    let r = private(&format!(
        "for n in '' . .. a/b ../x {long}; do
           netns add \"$n\" 2>>/run/err && echo accepted || echo rc=$?
         done
         ls -A /run/netns | wc -l
         grep -c ' /run/netns/' /proc/self/mountinfo || true
         cat /run/err"
    ));
    let out = r.assert_ok().stdout.clone();
    assert!(
        out.starts_with("rc=1\nrc=1\nrc=1\nrc=1\nrc=1\nrc=1\n0\n0\n"),
        "{out}"
    );
    assert!(out.contains("invalid namespace name 'a/b'"), "{out}");
    assert!(out.contains("at most 255 bytes"), "{out}");
    // 255 bytes is still a name.
    let r = private(&format!("netns add {}; netns list", "n".repeat(255)));
    assert_eq!(r.assert_ok().stdout.trim_end().len(), 255);
}

#[test]
fn netns_add_existing_name_keeps_old_namespace() {
    let r = private(
        "netns add keep
         before=$(stat -L -c %i /run/netns/keep)
         netns add keep 2>/run/err || echo rc=$?
         [ \"$(stat -L -c %i /run/netns/keep)\" = \"$before\" ] && echo same
         ip netns exec keep true && echo works
         cat /run/err",
    );
    let out = r.assert_ok().stdout.clone();
    assert!(out.starts_with("rc=1\nsame\nworks\n"), "{out}");
    assert!(out.contains("\"/run/netns/keep\": File exists"), "{out}");
}

#[test]
fn netns_add_of_several_names_is_all_or_nothing() {
    let r = private(
        "netns add taken
         netns add fresh1 fresh2 taken fresh3 || echo rc=$?
         ls /run/netns
         grep -c ' /run/netns/' /proc/self/mountinfo
         netns add ok1 ok2 'bad/name' || echo rc=$?
         ls /run/netns",
    );
    assert_eq!(r.assert_ok().stdout, "rc=1\ntaken\n1\nrc=1\ntaken\n");
}

#[test]
fn netns_delete_of_a_missing_name_says_so() {
    let r = private(
        "netns add here
         netns delete here gone || echo rc=$?
         ls -A /run/netns | wc -l",
    );
    assert_eq!(r.assert_ok().stdout, "rc=1\n0\n");
    assert!(
        r.stderr.contains(
            "cannot remove namespace file \"/run/netns/gone\": No such file or directory"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn netns_delete_of_a_busy_name_says_so_and_keeps_it() {
    // In a user namespace, a bind made by its parent is locked.
    let r = private(
        "netns add busy
         /usr/bin/unshare -Urm --propagation private netns delete busy || echo rc=$?
         ls /run/netns
         ip netns exec busy true && echo works",
    );
    assert_eq!(r.assert_ok().stdout, "rc=1\nbusy\nworks\n");
    assert!(
        r.stderr
            .contains("\"/run/netns/busy\": Device or resource busy (still mounted"),
        "{}",
        r.stderr
    );
}

#[test]
fn netns_delete_takes_off_every_bind_stacked_on_a_name() {
    let r = private(
        "netns add twice
         mount --bind /proc/self/ns/net /run/netns/twice
         grep -c ' /run/netns/twice ' /proc/self/mountinfo
         netns delete twice
         grep -c ' /run/netns/twice ' /proc/self/mountinfo || true
         ls -A /run/netns | wc -l",
    );
    assert_eq!(r.assert_ok().stdout, "2\n0\n0\n");
}

// ---- a large batch, spread over worker processes -------------------------------
// 300 names: on a machine with two CPUs or more `netns add` makes them in
// chunks, one in its own process and one in each worker it forks; with one
// CPU in order. The behaviour must be the same.

/// `names`: the batch; `left`: how many of our processes are still there.
const BATCH: &str = "names=$(seq -f 'n%g' 300)
left() { pgrep -c -x netns || true; }";

#[test]
fn netns_add_of_a_large_batch_binds_each_name_to_a_namespace_of_its_own() {
    let r = private_with_pid(&format!(
        "{BATCH}
         netns add $names
         left
         ls /run/netns | wc -l
         for n in $names; do stat -L -c %i /run/netns/$n; done >/run/inodes
         sort -u /run/inodes | wc -l
         grep -cx \"$(stat -L -c %i /proc/self/ns/net)\" /run/inodes || true
         awk '$5 ~ \"^/run/netns/n\" && / - nsfs / {{n++}} END {{print n+0}}' /proc/self/mountinfo
         ip netns list | wc -l
         ip netns exec n1 true && ip netns exec n300 true && echo exec
         netns delete --all
         ls -A /run/netns | wc -l
         grep -c ' /run/netns/' /proc/self/mountinfo || true"
    ));
    assert_eq!(
        r.assert_ok().stdout,
        "0\n300\n300\n0\n300\n300\nexec\n0\n0\n"
    );
}

/// A batch of 300 failing at its 200th name (which `setup` makes), beside
/// the message `netns add n199 n200` gives in order: /run/netns is left as
/// it was and no process is left.
fn batch_failing_at_200(setup: &str) -> String {
    let r = private_with_pid(&format!(
        "{BATCH}
         {setup}
         before=$(ls -l /run/netns; stat -L -c %i /run/netns/n200)
         netns add n199 n200 2>/run/in-order || echo rc=$?
         netns add $names 2>/run/batch || echo rc=$?
         left
         [ \"$(ls -l /run/netns; stat -L -c %i /run/netns/n200)\" = \"$before\" ] && echo unchanged
         grep -c ' /run/netns/' /proc/self/mountinfo || true
         cmp /run/in-order /run/batch && echo same-message
         cat /run/batch"
    ));
    r.assert_ok().stdout.clone()
}

#[test]
fn netns_add_batch_over_a_namespace_name_keeps_it_and_says_what_in_order_says() {
    let out = batch_failing_at_200("netns add n200");
    assert_eq!(
        out,
        "rc=1\nrc=1\n0\nunchanged\n1\nsame-message\n\
         netns: cannot create namespace file \"/run/netns/n200\": File exists\n"
    );
    let r = private("netns add n200; netns add $(seq -f 'n%g' 300) 2>/dev/null || ip netns exec n200 true && echo works");
    assert_eq!(r.assert_ok().stdout, "works\n");
}

#[test]
fn netns_add_batch_over_a_leftover_file_gives_the_in_order_hint() {
    let out = batch_failing_at_200(": >/run/netns/n200");
    assert_eq!(
        out,
        "rc=1\nrc=1\n0\nunchanged\n0\nsame-message\n\
         netns: cannot create namespace file \"/run/netns/n200\": File exists \
         (it is not bound to a namespace (left by an interrupted add?): \
         remove it with 'netns delete n200')\n"
    );
}

#[test]
fn netns_add_of_a_name_given_twice_fails_at_its_second_mention() {
    // Small and large batches alike: the name was bound by us a moment
    // before, so no hint of a leftover file.
    let r = private(
        "netns add a b a 2>/run/err || echo rc=$?
         netns add $(seq -f 'n%g' 300) n3 2>>/run/err || echo rc=$?
         ls -A /run/netns | wc -l
         cat /run/err",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "rc=1\nrc=1\n0\n\
         netns: cannot create namespace file \"/run/netns/a\": File exists\n\
         netns: cannot create namespace file \"/run/netns/n3\": File exists\n"
    );
}

#[test]
fn netns_add_batches_racing_over_the_same_names_never_take_each_others() {
    // Each batch is all or nothing, and removes only what it bound: one
    // wins and the other leaves its names alone, or both fail and nothing
    // is left, never a mix.
    let r = private_with_pid(&format!(
        "{BATCH}
         for round in 1 2 3 4 5; do
           netns add $names 2>/dev/null & a=$!
           netns add $names 2>/dev/null & b=$!
           ra=0; rb=0; wait $a || ra=1; wait $b || rb=1
           echo \"$ra$rb $(ls -A /run/netns | wc -l) $(grep -c ' /run/netns/' /proc/self/mountinfo || true) $(left)\"
           netns delete --all
         done"
    ));
    let out = r.assert_ok().stdout.clone();
    assert_eq!(out.lines().count(), 5, "{out}");
    for line in out.lines() {
        assert!(
            ["01 300 300 0", "10 300 300 0", "11 0 0 0"].contains(&line),
            "{out}"
        );
    }
}

// ---- wiring ---------------------------------------------------------------------

const CLASSIC: &str = "
netns add ns1 ns2 r
netns link ns1 r --addr 10.10.10.2/24,10.10.10.1/24
netns link ns2 r --addr 10.10.20.2/24,10.10.20.1/24
netns forward on r
netns route ns1 default via 10.10.10.1
netns route ns2 default via 10.10.20.1
netns link ns1:v6 r:v6a --addr fd00:10::2/64,fd00:10::1/64
netns link ns2:v6 r:v6b --addr fd00:20::2/64,fd00:20::1/64
netns route ns1 fd00:20::/64 via fd00:10::1
netns route ns2 default via fd00:20::1 dev v6
";

#[test]
fn netns_classic_scenario_routes_ipv4_and_ipv6_through_a_router_namespace() {
    let r = private(&format!(
        "{CLASSIC}
         ip netns exec ns1 ping -c1 -W2 10.10.20.2 >/dev/null && echo v4
         ip netns exec ns1 ping -c1 -W2 fd00:20::2 >/dev/null && echo v6
         ip netns exec r sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
         ip -n ns1 -o -4 addr show dev v-r | awk '{{print $4}}'
         ip -n r -o link | awk -F': ' '{{print $2}}' | cut -d@ -f1 | sort | tr '\\n' ' '"
    ));
    assert_eq!(
        r.assert_ok().stdout,
        "v4\nv6\n1\n1\n10.10.10.2/24\nlo v-ns1 v-ns2 v6a v6b "
    );
}

#[test]
fn netns_forward_off_stops_the_routing() {
    let r = private(&format!(
        "{CLASSIC}
         netns forward off r
         ip netns exec r sysctl -n net.ipv4.ip_forward
         ip netns exec ns1 ping -c1 -W1 10.10.20.2 >/dev/null || echo blocked"
    ));
    assert_eq!(r.assert_ok().stdout, "0\nblocked\n");
}

#[test]
fn netns_bridge_lets_three_members_reach_each_other() {
    let r = private(
        "netns add hub m1 m2 m3
         netns bridge hub:br0 --subnet 10.77.0.0/24 m1 m2 m3
         ip -n hub -o -4 addr show dev br0 | awk '{print $4}'
         for m in m1 m2 m3; do ip -n $m -o -4 addr show dev eth0 | awk '{print $4}'; done
         ip -n hub -o link show master br0 | wc -l
         ip -n m2 route show default
         ip netns exec m1 ping -c1 -W2 10.77.0.3 >/dev/null && echo 1to2
         ip netns exec m2 ping -c1 -W2 10.77.0.4 >/dev/null && echo 2to3
         ip netns exec m3 ping -c1 -W2 10.77.0.2 >/dev/null && echo 3to1
         netns add h6 a6 b6
         netns bridge h6:br6 --subnet fd00:77::/64 a6 b6
         ip netns exec a6 ping -c1 -W2 fd00:77::3 >/dev/null && echo v6",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "10.77.0.1/24\n10.77.0.2/24\n10.77.0.3/24\n10.77.0.4/24\n3\ndefault via 10.77.0.1 dev eth0 \n1to2\n2to3\n3to1\nv6\n"
    );
}

#[test]
fn netns_link_sets_mtu_and_brings_ends_and_lo_up() {
    let r = private(
        "netns add a b
         netns link a:left b:right --mtu 1400
         ip -n a -o link show left | grep -o 'mtu [0-9]*'
         ip -n b -o link show right | grep -o 'mtu [0-9]*'
         ip -n a -o link show lo | grep -c LOWER_UP
         ip -n b -o link show right | grep -c ',UP'",
    );
    assert_eq!(r.assert_ok().stdout, "mtu 1400\nmtu 1400\n1\n1\n");
}

#[test]
fn netns_addr_up_down_and_route_change_what_ip_sees() {
    let r = private(
        "netns add a b
         netns link a:x b:y
         netns addr a x 10.9.0.1/24 fd00:9::1/64
         netns addr b y 10.9.0.2/24
         ip -n a -o addr show dev x | awk '{print $4}' | grep -v fe80
         netns show a --json | grep -o '\"name\":\"x\".*' | grep -o '\"address\":\"[^\"]*\",\"prefixlen\":[0-9]*,\"scope\":\"global\"' | cut -d'\"' -f4
         netns down a x
         ip -n a -o link show x | grep -c ',UP' || true
         netns up a x
         netns route a 10.99.0.0/16 via 10.9.0.2 dev x
         ip -n a route show 10.99.0.0/16
         netns show a | grep -c '10.99.0.0/16 via 10.9.0.2 dev x'",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "10.9.0.1/24\nfd00:9::1/64\n10.9.0.1\nfd00:9::1\n0\n10.99.0.0/16 via 10.9.0.2 dev x \n1\n"
    );
}

#[test]
fn netns_accepts_paths_pids_and_our_own_namespace() {
    // `-` is only ever our own namespace when that is a namespace of the test.
    let r = private(
        "netns add far
         /usr/bin/unshare -n sleep 30 & held=$!
         trap 'kill $held 2>/dev/null' EXIT
         for i in $(seq 200); do
           [ \"$(readlink /proc/$held/ns/net)\" != \"$(readlink /proc/self/ns/net)\" ] && break; sleep 0.05
         done
         netns link pid:$held:p0 /run/netns/far:f0 --addr 10.3.0.1/24,10.3.0.2/24
         /usr/bin/nsenter -t $held -n ip -o -4 addr show dev p0 | awk '{print $4}'
         /usr/bin/unshare -n bash -c '
           netns up -
           netns link -:me far:you --addr 10.4.0.1/24,10.4.0.2/24
           ping -c1 -W2 10.4.0.2 >/dev/null && echo own
           netns show - | grep -c \"inet 10.4.0.1/24 scope global\"'",
    );
    assert_eq!(r.assert_ok().stdout, "10.3.0.1/24\nown\n1\n");
}

// ---- errors leave things as they were ---------------------------------------------

/// The state a failed command must not change: names and every link.
const SNAPSHOT: &str = "snap() { ls /run/netns; for n in $(ls /run/netns); do ip -n $n -o link | awk -F': ' '{print $2}'; ip -n $n -o addr | awk '{print $2, $4}'; done; }";

#[test]
fn netns_errors_name_the_culprit_and_change_nothing() {
    let r = private(&format!(
        "{SNAPSHOT}
         netns add a b
         netns link a:x b:y --addr 10.1.0.1/24,10.1.0.2/24
         before=$(snap)
         try() {{ \"$@\" 2>>/run/err && echo \"accepted: $*\" || echo rc=$?; }}
         try netns link a missing
         try netns link a b --addr 10.2.0.1/33,10.2.0.2/24
         try netns link a b --addr 10.1.0.1/24,10.2.0.2/24
         try netns link a:bad/if b
         try netns addr a nope0 10.5.0.1/24
         try netns addr a x 10.6.0.1/24 10.1.0.1/24
         try netns addr a x not-an-ip
         try netns route a default via 10.1.0.2 dev nope0
         try netns route a default via 10.77.0.9
         try netns route a 10.0.0.0/8 via fd00::1
         try netns up a nope0
         try netns forward on missing
         try netns bridge a:br0 --subnet 10.8.0.0/30 b missing
         try netns bridge a:br0 --subnet 10.8.0.0/30 b b b
         try netns attach ghost 999999999
         try netns set missing 4
         try netns exec missing true
         after=$(snap)
         [ \"$before\" = \"$after\" ] && echo unchanged
         cat /run/err",
    ));
    let out = r.assert_ok().stdout.clone();
    let codes: Vec<&str> = lines(&out).into_iter().take(17).collect();
    assert_eq!(codes, vec!["rc=1"; 17], "{out}");
    assert!(out.contains("unchanged"), "{out}");
    for culprit in [
        "network namespace 'missing'",
        "invalid address '10.2.0.1/33'",
        "address 10.1.0.1 is already in use on x in namespace a",
        "invalid interface name 'bad/if'",
        "interface 'nope0'",
        "invalid address 'not-an-ip'",
        "cannot add default route via 10.77.0.9",
        "different families",
        "subnet 10.8.0.0/30 is too small for 3 members",
        "/proc/999999999/ns/net",
    ] {
        assert!(out.contains(culprit), "no '{culprit}' in:\n{out}");
    }
}

#[test]
fn netns_link_failing_at_the_address_step_leaves_no_veth() {
    let r = private(
        "netns add a b
         ip netns exec b sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
         netns link a:x b:y --addr fd00:5::1/64,fd00:5::2/64 || echo rc=$?
         ip -n a -o link | awk -F': ' '{print $2}'
         ip -n b -o link | awk -F': ' '{print $2}'",
    );
    assert_eq!(r.assert_ok().stdout, "rc=1\nlo\nlo\n");
    assert!(r.stderr.contains("fd00:5::2/64"), "{}", r.stderr);
}

#[test]
fn netns_bridge_failing_half_way_removes_what_it_made() {
    let r = private(
        "netns add hub m1 m2
         ip netns exec m2 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
         netns bridge hub:br0 --subnet fd00:6::/64 m1 m2 || echo rc=$?
         for n in hub m1 m2; do ip -n $n -o link | awk -F': ' '{print $2}'; done
         # A port name taken before the call is not the call's to remove.
         ip -n hub link add br0-2 type veth peer name other0
         netns bridge hub:br0 --subnet 10.6.0.0/24 m1 m2 || echo rc=$?
         ip -n hub -o link | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
         ip -n m1 -o link | awk -F': ' '{print $2}'",
    );
    assert_eq!(
        r.assert_ok().stdout,
        "rc=1\nlo\nlo\nlo\nrc=1\nbr0-2\nlo\nother0\nlo\n"
    );
}

#[test]
fn netns_without_privilege_says_so_and_changes_nothing() {
    let r = private(
        "netns add locked
         setpriv --reuid=65534 --regid=65534 --clear-groups netns up locked lo 2>/run/err || echo rc=$?
         setpriv --reuid=65534 --regid=65534 --clear-groups netns add other 2>>/run/err || echo rc=$?
         ip -n locked -o link show lo | grep -c ',UP' || true
         ls /run/netns
         cat /run/err",
    );
    let out = r.assert_ok().stdout.clone();
    assert!(out.starts_with("rc=1\nrc=1\n0\nlocked\n"), "{out}");
    assert!(
        out.contains("Operation not permitted") || out.contains("Permission denied"),
        "{out}"
    );
}

#[test]
fn netns_list_and_identify_need_no_privilege() {
    let r = private_with_net(
        "netns add seen
         netns set seen 3
         nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups \"$@\"; }
         nobody netns list
         ip netns exec seen setpriv --reuid=65534 --regid=65534 --clear-groups netns identify",
    );
    assert_eq!(r.assert_ok().stdout, "seen (id: 3)\nseen\n");
}

// ---- unprivileged, in a user namespace of its own -----------------------------------

#[test]
fn netns_add_link_exec_work_unprivileged_in_a_user_namespace() {
    let r = private_as_nobody(
        "netns add u1 u2
         netns link u1 u2 --addr 10.50.0.1/24,10.50.0.2/24
         netns exec u1 ping -c1 -W2 10.50.0.2 | grep -o '1 received'
         netns exec u1 ls /sys/class/net | sort | tr '\\n' ' '; echo
         netns list | sort | tr '\\n' ' '; echo
         netns delete u1 u2
         ls -A /run/netns | wc -l",
    );
    assert_eq!(r.assert_ok().stdout, "1 received\nlo v-u2 \nu1 u2 \n0\n");
}

#[test]
fn netns_routes_and_bridges_unprivileged_in_a_user_namespace() {
    let r = private_as_nobody(&format!(
        "{CLASSIC}
         netns exec ns1 ping -c1 -W2 10.10.20.2 | grep -o '1 received'
         netns exec ns1 ping -c1 -W2 fd00:20::2 | grep -o '1 received'
         netns add hub m1 m2
         netns bridge hub:br0 --subnet 10.88.0.0/24 m1 m2
         netns exec m1 ping -c1 -W2 10.88.0.3 | grep -o '1 received'
         netns show m2 --json | grep -o '\"dst\":\"default\",\"gateway\":\"[^\"]*\"' | cut -d'\"' -f8"
    ));
    assert_eq!(
        r.assert_ok().stdout,
        "1 received\n1 received\n1 received\n10.88.0.1\n"
    );
}
