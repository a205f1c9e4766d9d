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
