//! Faults: our process killed (SIGKILL) or a syscall failed at each step,
//! with `strace -f -e inject=SYSCALL:signal=KILL:when=N` (and `error=`)
//! for every syscall the command makes. After each broken run the kernel's
//! record must show all or nothing: never a half-bound file, never a veth
//! without its peer, never a partly written map; where the kernel makes a
//! leftover unavoidable, the next command on the same name cleans it up.
//!
//! Each case runs in a mount and network namespace of its own (a tmpfs over
//! /run/netns), so the host is never touched.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// The driver: enumerate the syscalls of one clean run, then for each
/// syscall name and each of its invocations (per tracee, as strace counts
/// `when`), break the run there, check, clean up. The case supplies
/// `setup` (prints nothing), `victim` (an array: the command), `check MODE
/// POINT RC` (prints `BAD ...` lines) and `cleanup`. `ERRORS` is the list
/// of syscalls to fail with EIO as well as to kill at.
const DRIVER: &str = r#"
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
if [ -d /run/netns ]; then mount -t tmpfs faults /run/netns
else mount -t tmpfs faults /run && mkdir /run/netns; fi
points=0
setup
strace -f -qq -o "$d/trace" -- "${victim[@]}" >/dev/null 2>&1 || echo "BAD clean run failed"
cleanup
# Each syscall name with its most invocations by one process.
sed -nE 's/^([0-9]+) +([a-z0-9_]+)\(.*/\1 \2/p' "$d/trace" | sort | uniq -c |
  awk '{ if ($1 > max[$3]) max[$3] = $1 } END { for (s in max) print s, max[s] }' >"$d/points"
while read -r name count; do
  case $name in execve|exit_group|exit) continue ;; esac
  modes="signal=KILL"
  case " $ERRORS " in *" $name "*) modes="$modes error=EIO" ;; esac
  for mode in $modes; do
    for ((k = 1; k <= count; k++)); do
      setup
      # strace -f waits for every process of the victim: one left behind
      # (a helper that outlived a killed parent) shows as a hang.
      timeout -k 5 30 strace -f -qq -o /dev/null -e trace="$name" \
        -e inject="$name:$mode:when=$k" -- "${victim[@]}" >"$d/out" 2>"$d/err"
      rc=$?
      [ "$rc" != 124 ] || echo "BAD $mode $name#$k: still running after 30s"
      check "$mode" "$name#$k" "$rc"
      cleanup
      points=$((points + 1))
    done
  done
done <"$d/points"
echo "points $points"
"#;

/// Run one fault case (bash defining setup/victim/check/cleanup/ERRORS) in
/// namespaces of its own; every point broken must leave no `BAD` line.
fn fault_case(case: &str) {
    let script = format!("{case}\n{DRIVER}");
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args(["--mount", "--net", "--propagation", "private", "bash", "-c"])
        .arg(script)
        .env("PATH", path_with_applets());
    let r = run_command(cmd, Duration::from_secs(600));
    let bad: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("BAD")).collect();
    assert!(
        bad.is_empty(),
        "{} broken states:\n{}\nstderr: {}",
        bad.len(),
        bad.join("\n"),
        r.stderr
    );
    let points: u32 = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("points "))
        .unwrap_or_else(|| panic!("the driver did not finish: {}\n{}", r.stdout, r.stderr))
        .parse()
        .unwrap();
    assert!(points > 20, "only {points} fault points: {}", r.stdout);
    println!("{points} fault points, none left a broken state");
}

/// Shell helpers the cases share: how many mounts sit on a path, and
/// whether the top one is an nsfs mount.
const MOUNT_HELPERS: &str = r#"
mounts_on() { awk -v p="$1" '$5 == p {n++} END {print n+0}' /proc/self/mountinfo; }
nsfs_on() { awk -v p="$1" '$5 == p {t = $0} END {print (t ~ / - nsfs /) ? "yes" : "no"}' /proc/self/mountinfo; }
unmount_all() { while [ "$(mounts_on "$1")" != 0 ]; do umount -l "$1" || break; done; }
"#;

/// The case for `unshare FLAGS --net=FILE true`: afterwards FILE is a plain
/// file, or bound (once) to a new network namespace; when we report a
/// failure of our own, never bound.
fn net_file_case(tag: &str, flags: &str, errors: &str) {
    let dir = scratch(tag);
    let case = format!(
        r#"{MOUNT_HELPERS}
f={file}
ERRORS="{errors}"
victim=(unshare {flags} --net="$f" true)
setup() {{ : >"$f"; }}
cleanup() {{ unmount_all "$f"; rm -f "$f"; }}
check() {{
  local mode=$1 at=$2 rc=$3 n
  [ -f "$f" ] || echo "BAD $mode $at: $f is gone"
  n=$(mounts_on "$f")
  [ "$n" -le 1 ] || echo "BAD $mode $at: $n mounts on $f"
  if [ "$n" = 1 ]; then
    [ "$(nsfs_on "$f")" = yes ] || echo "BAD $mode $at: $f holds a mount that is not a namespace"
    # The bound namespace is a new one, never the one we started in.
    [ "$(stat -L -c %i "$f")" != "$(stat -L -c %i /proc/self/ns/net)" ] ||
      echo "BAD $mode $at: $f is bound to the old namespace"
  fi
  # Our own failure (not the program's) must undo the bind.
  if [ "$mode" != signal=KILL ] && grep -q '^unshare:' "$d/err" && [ "$n" != 0 ]; then
    echo "BAD $mode $at: failed (rc $rc: $(head -1 "$d/err")) yet $f stays bound"
  fi
}}
"#,
        file = dir.join("net").display()
    );
    fault_case(&case);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unshare_net_file_killed_or_failed_at_any_step_leaves_no_half_bound_file() {
    net_file_case("fault-net-file", "", "unshare mount openat");
}

#[test]
fn unshare_mount_and_net_file_killed_or_failed_at_any_step_leaves_no_half_bound_file() {
    // With -m the bind is made from outside the new mount namespace, by a
    // helper process: killing either must still leave all or nothing.
    net_file_case(
        "fault-mnt-net-file",
        "-m",
        "unshare mount openat clone clone3 write read",
    );
}

#[test]
fn unshare_map_root_and_net_file_killed_or_failed_at_any_step_leaves_no_half_bound_file() {
    // In a new user namespace the helper outside also writes the maps.
    net_file_case(
        "fault-user-net-file",
        "-r",
        "unshare mount openat clone clone3 write read",
    );
}

/// The case for `mkmap KIND PID ARGS...` against a fresh user namespace:
/// the map afterwards is empty or exactly `want`, never a part of it.
fn mkmap_case(kind: &str, args: &str, want: &str) -> String {
    format!(
        r#"
ERRORS="openat write read pidfd_open"
want=$(printf '{want}')
setup() {{
  /usr/bin/unshare -U sleep 60 & t=$!
  for _ in $(seq 200); do
    [ "$(readlink /proc/$t/ns/user)" != "$(readlink /proc/self/ns/user)" ] && break
    sleep 0.01
  done
  victim=(mkmap {kind} "$t" {args})
}}
cleanup() {{ kill -9 "$t"; wait "$t" 2>/dev/null; }}
check() {{
  local mode=$1 at=$2 rc=$3 got
  got=$(awk '{{print $1, $2, $3}}' /proc/$t/{kind}_map)
  if [ -n "$got" ] && [ "$got" != "$want" ]; then
    echo "BAD $mode $at: a partial {kind} map: $got"
  fi
  if [ "$rc" = 0 ] && [ "$got" != "$want" ]; then
    echo "BAD $mode $at: mkmap succeeded but the map is '$got'"
  fi
  if [ "$mode" != signal=KILL ] && [ "$rc" != 0 ] && [ -n "$got" ]; then
    echo "BAD $mode $at: mkmap failed (rc $rc: $(head -1 "$d/err")) yet wrote the map"
  fi
}}
"#
    )
}

#[test]
fn mkmap_uid_killed_or_failed_at_any_step_writes_all_or_nothing() {
    fault_case(&mkmap_case(
        "uid",
        "0:100000:1000 1000:0:1 1001:200000:64535",
        r"0 100000 1000\n1000 0 1\n1001 200000 64535",
    ));
}

#[test]
fn mkmap_gid_with_setgroups_killed_or_failed_at_any_step_writes_all_or_nothing() {
    fault_case(&mkmap_case(
        "gid",
        "--setgroups deny 0:100000:1000 1000:0:1",
        r"0 100000 1000\n1000 0 1",
    ));
}

#[test]
fn netns_add_killed_or_failed_at_any_step_leaves_a_namespace_or_a_file_the_next_command_handles() {
    let case = format!(
        r#"{MOUNT_HELPERS}
ERRORS="unshare mount mknodat openat umount2 mkdir"
victim=(netns add fault-ns)
f=/run/netns/fault-ns
setup() {{ :; }}
cleanup() {{
  unmount_all "$f"; rm -f "$f"
  while [ "$(mounts_on /run/netns)" -gt 1 ]; do umount -l /run/netns; done
}}
check() {{
  local mode=$1 at=$2 rc=$3 n
  n=$(mounts_on "$f")
  [ "$n" -le 1 ] || echo "BAD $mode $at: $n mounts on $f"
  [ "$(mounts_on /run/netns)" -le 2 ] || echo "BAD $mode $at: /run/netns bound $(mounts_on /run/netns) times"
  if [ "$n" = 1 ]; then
    [ "$(nsfs_on "$f")" = yes ] || echo "BAD $mode $at: $f holds a mount that is not a namespace"
    [ "$(stat -L -c %i "$f")" != "$(stat -L -c %i /proc/self/ns/net)" ] ||
      echo "BAD $mode $at: $f is bound to our own namespace"
  fi
  if [ "$mode" != signal=KILL ] && [ "$rc" != 0 ] && [ -e "$f" ]; then
    echo "BAD $mode $at: failed (rc $rc: $(head -1 "$d/err")) yet left $f"
  fi
  if [ -e "$f" ] && [ "$n" = 0 ]; then
    # A file without its bind: the kill fell between the two. The next
    # add must take the name, or say what to remove; delete removes it.
    if netns add fault-ns 2>"$d/again"; then
      [ "$(nsfs_on "$f")" = yes ] || echo "BAD $mode $at: the next add left $f unbound"
    elif ! grep -q "netns delete fault-ns" "$d/again"; then
      echo "BAD $mode $at: the next add neither took the name nor said what to remove: $(cat "$d/again")"
    fi
    netns delete fault-ns || echo "BAD $mode $at: netns delete cannot remove the leftover $f"
    [ ! -e "$f" ] || echo "BAD $mode $at: $f is still there after delete"
  fi
}}
"#
    );
    fault_case(&case);
}

#[test]
fn netns_link_killed_or_failed_at_any_step_leaves_both_ends_or_neither() {
    let case = r#"
ERRORS="sendto sendmsg recvfrom recvmsg setns openat socket"
victim=(netns link fault-a fault-b --addr 10.9.0.1/24,10.9.0.2/24)
veths() { ip -n "$1" -o link show type veth | awk -F': ' '{print $2}'; }
setup() { netns add fault-a fault-b; }
cleanup() { netns delete fault-a fault-b; }
check() {
  local mode=$1 at=$2 rc=$3 a b
  a=$(veths fault-a); b=$(veths fault-b)
  if [ -n "$a" ] && [ -z "$b" ]; then echo "BAD $mode $at: fault-a holds $a without a peer in fault-b"; fi
  if [ -z "$a" ] && [ -n "$b" ]; then echo "BAD $mode $at: fault-b holds $b without a peer in fault-a"; fi
  local own
  own=$(ip -o link show type veth | awk -F': ' '{print $2}')
  [ -z "$own" ] || echo "BAD $mode $at: a veth left in our own namespace: $own"
  if [ "$rc" = 0 ] && [ -z "$a" ]; then echo "BAD $mode $at: link succeeded but made nothing"; fi
  if [ "$mode" != signal=KILL ] && [ "$rc" != 0 ] && [ -n "$a" ]; then
    echo "BAD $mode $at: failed (rc $rc: $(head -1 "$d/err")) yet left $a / $b"
  fi
  if [ "$mode" = signal=KILL ] && [ "$rc" != 0 ] && [ -n "$a" ]; then
    # A pair made, maybe without its addresses: the next link must
    # finish the job or say what to remove.
    if ! netns link fault-a fault-b --addr 10.9.0.1/24,10.9.0.2/24 2>"$d/again"; then
      # (An address already there is named with the interface holding it.)
      grep -q "remove it with 'nsenter --net=/run/netns/fault-[ab] ip link del v-fault-[ab]'\|already in use on v-fault-[ab] in namespace fault-[ab]" "$d/again" ||
        echo "BAD $mode $at: the next link neither worked nor said what to remove: $(cat "$d/again")"
    fi
  fi
}
"#;
    fault_case(case);
}

/// Run a script in a mount and network namespace of its own, with a tmpfs
/// over /run/netns.
fn in_own_netns_dir(script: &str) -> Run {
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args(["--mount", "--net", "--propagation", "private", "bash", "-c"])
        .arg(format!(
            "if [ -d /run/netns ]; then mount -t tmpfs t /run/netns; \
             else mount -t tmpfs t /run && mkdir /run/netns; fi\n{script}"
        ))
        .env("PATH", path_with_applets());
    run_command(cmd, TIMEOUT)
}

/// The same in a PID namespace of its own too (bash is PID 1), so that
/// `pgrep` sees only the script's own processes.
fn in_own_pid_and_netns_dir(script: &str) -> Run {
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args([
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "bash",
        "-c",
    ])
    .arg(format!(
        "if [ -d /run/netns ]; then mount -t tmpfs t /run/netns; \
         else mount -t tmpfs t /run && mkdir /run/netns; fi\n{script}"
    ))
    .env("PATH", path_with_applets());
    run_command(cmd, TIMEOUT)
}

/// A batch of 300 names on two CPUs (the first two this process may use):
/// the caller makes n1..n150 and one worker process n151..n300. Prints
/// `one CPU` instead when there is no second CPU to spread over.
const TWO_CPU_BATCH: &str = r#"
cpus=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0))[:2])))')
case $cpus in *,*) ;; *) echo "one CPU"; exit 0 ;; esac
names=$(seq -f 'n%g' 300)
left() { pgrep -c -x netns || true; }
state() { echo "rc=$1 files=$(ls -A /run/netns | wc -l) mounts=$(grep -c ' /run/netns/' /proc/self/mountinfo || true) left=$(left)"; }
"#;

#[test]
fn netns_add_batch_with_a_worker_failing_or_killed_leaves_nothing() {
    // Only the worker writes (its reports) before the batch ends; mount
    // fails in both processes (the first failure, the caller's, is told).
    let r = in_own_pid_and_netns_dir(&format!(
        r#"{TWO_CPU_BATCH}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
for inject in mount:error=ENOSPC:when=150 write:error=ENOSPC:when=50 write:signal=KILL:when=50; do
  taskset -c "$cpus" strace -f -qq -o /dev/null -e trace="${{inject%%:*}}" -e inject="$inject" \
    netns add $names 2>"$d/err"
  echo "$inject $(state $?)"
  sed 's/^/  /' "$d/err"
done"#
    ));
    let out = &r.stdout;
    if out.starts_with("one CPU") {
        println!("skipped: one CPU, no worker to break");
        return;
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{r:?}");
    // The caller's own mounts before its names (preparing /run/netns)
    // decide which of its names the 150th mount is.
    assert_eq!(
        lines[0],
        "mount:error=ENOSPC:when=150 rc=1 files=0 mounts=0 left=0"
    );
    assert!(
        lines[1].starts_with("  netns: bind /proc/thread-self/ns/net -> /run/netns/n14")
            && lines[1].ends_with(" failed: No space left on device"),
        "{r:?}"
    );
    assert_eq!(
        &lines[2..],
        [
            "write:error=ENOSPC:when=50 rc=1 files=0 mounts=0 left=0",
            "  netns: cannot create network namespace n200: the process making it exited with status 2",
            "write:signal=KILL:when=50 rc=1 files=0 mounts=0 left=0",
            "  netns: cannot create network namespace n200: the process making it was killed by SIGKILL",
        ],
        "{r:?}"
    );
}

#[test]
fn netns_add_batch_killed_takes_its_workers_with_it() {
    // SIGKILL to the caller mid-batch: its workers die too (PR_SET_PDEATHSIG),
    // and what is left is bound names (or a file) that delete removes.
    let r = in_own_pid_and_netns_dir(&format!(
        r#"{TWO_CPU_BATCH}
taskset -c "$cpus" netns add $(seq -f 'k%g' 1000) & p=$!
for _ in $(seq 1000); do [ "$(ls -A /run/netns | wc -l)" -ge 100 ] && break; sleep 0.01; done
echo "workers=$(pgrep -c -P $p)"
kill -KILL $p; wait $p; rc=$?
for _ in $(seq 100); do [ "$(left)" = 0 ] && break; sleep 0.05; done
echo "rc=$rc left=$(left)"
netns delete --all; state $?"#
    ));
    let out = &r.stdout;
    if out.starts_with("one CPU") {
        println!("skipped: one CPU, no worker to outlive us");
        return;
    }
    assert_eq!(
        out, "workers=1\nrc=137 left=0\nrc=0 files=0 mounts=0 left=0\n",
        "{r:?}"
    );
}

#[test]
fn netns_add_over_a_file_left_unbound_says_what_to_remove_and_delete_removes_it() {
    let r = in_own_netns_dir(
        "netns add first && : > /run/netns/left\n\
         netns add left; echo \"rc=$?\"\n\
         netns delete left; echo \"delete=$?\"; [ -e /run/netns/left ] || echo gone\n\
         netns add left && echo readded",
    );
    assert!(r.stdout.contains("rc=1"), "{r:?}");
    assert!(
        r.stderr
            .contains("cannot create namespace file \"/run/netns/left\": File exists")
            && r.stderr.contains("remove it with 'netns delete left'"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("delete=0") && r.stdout.contains("gone") && r.stdout.contains("readded"),
        "{r:?}"
    );
    // A name that is bound keeps iproute2's message, with no such hint.
    let r = in_own_netns_dir("netns add x && netns add x");
    assert!(!r.ok() && !r.stderr.contains("interrupted"), "{r:?}");
}

#[test]
fn netns_link_onto_a_taken_interface_name_says_what_to_remove() {
    let r = in_own_netns_dir(
        "netns add la lb && ip -n la link add v-lb type veth peer name keep\n\
         netns link la lb; echo \"rc=$?\"\n\
         ip -n lb -o link show type veth | grep -c . | sed s/^/veths_b=/",
    );
    assert!(r.stdout.contains("rc=1"), "{r:?}");
    assert!(
        r.stderr.contains(
            "interface v-lb already exists in namespace la (left by an interrupted link?): \
             remove it with 'nsenter --net=/run/netns/la ip link del v-lb'"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("veths_b=0"), "nothing made in lb: {r:?}");
}

/// A setuid-root copy of the binary, removed when dropped.
struct SetuidCopy(std::path::PathBuf);

impl Drop for SetuidCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn setuid_copy(tag: &str, name: &str) -> SetuidCopy {
    let dir = scratch(tag);
    set_mode(&dir, 0o755);
    let copy = dir.join(name);
    copy_executable(&bin_dir().join("nstools"), &copy);
    set_mode(&copy, 0o4755);
    SetuidCopy(dir)
}

#[test]
fn setuid_newgidmap_killed_or_failed_at_any_step_writes_all_or_nothing() {
    // As uid 65534 through a setuid copy, with a test /etc/subgid bound in
    // the case's own mount namespace; root's strace keeps the setuid bit.
    let copy = setuid_copy("fault-suid", "newgidmap");
    let dir = &copy.0;
    std::fs::write(dir.join("subgid"), "nobody:200000:65536\n").unwrap();
    set_mode(&dir.join("subgid"), 0o644);
    let case = format!(
        r#"
mount --bind {d}/subgid /etc/subgid || exit 1
ERRORS="openat write read"
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups --"
want="0 65534 1
1 200000 1000"
setup() {{
  $as_nobody /usr/bin/unshare -U sleep 60 & t=$!
  for _ in $(seq 200); do
    [ "$(readlink /proc/$t/ns/user)" != "$(readlink /proc/self/ns/user)" ] && break
    sleep 0.01
  done
  victim=($as_nobody {d}/newgidmap "$t" 0 65534 1 1 200000 1000)
}}
cleanup() {{ kill -9 "$t"; wait "$t" 2>/dev/null; }}
check() {{
  local mode=$1 at=$2 rc=$3 got sg
  got=$(awk '{{print $1, $2, $3}}' /proc/$t/gid_map)
  sg=$(cat /proc/$t/setgroups)
  if [ -n "$got" ] && [ "$got" != "$want" ]; then
    echo "BAD $mode $at: a partial gid map: $got"
  fi
  if [ "$rc" = 0 ] && [ "$got" != "$want" ]; then
    echo "BAD $mode $at: newgidmap succeeded but the map is '$got'"
  fi
  if [ "$mode" != signal=KILL ] && [ "$rc" != 0 ] && [ -n "$got" ]; then
    echo "BAD $mode $at: newgidmap failed (rc $rc: $(head -1 "$d/err")) yet wrote the map"
  fi
  # A range from /etc/subgid: setgroups stays allowed (CVE-2018-7169 rule).
  [ "$sg" = allow ] || echo "BAD $mode $at: setgroups is $sg"
}}
"#,
        d = dir.display()
    );
    fault_case(&case);
}
