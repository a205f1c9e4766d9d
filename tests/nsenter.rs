//! `nsenter` run for real: each test checks what the kernel records, and the
//! differential tests hold ours to util-linux's /usr/bin/nsenter.

mod common;

use std::process::{Command, Stdio};

use common::*;

const KINDS: [&str; 8] = ["mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time"];
const UTIL_LINUX: &str = "/usr/bin/nsenter";

fn box_target(as_nobody: bool) -> Target {
    start_target(
        &["--pid", "--mount-proc", "-rmuinC", "--hostname=box"],
        as_nobody,
        &[],
    )
}

/// What a shell inside the namespaces sees: hostname, links, ns links.
const LOOK: &str = "hostname; ip -o link | cut -d: -f2 | tr -d [:blank:]; \
    for k in mnt uts ipc net pid user cgroup time; do readlink /proc/self/ns/$k; done";

fn links_of(pid: u32) -> Vec<String> {
    KINDS.iter().map(|k| ns_link(&pid.to_string(), k)).collect()
}

fn expected_look(pid: u32) -> String {
    let mut s = String::from("box\nlo\n");
    for l in links_of(pid) {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

#[test]
fn nsenter_all_sees_the_targets_namespaces_hostname_and_lo() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let r = run("nsenter", &["-t", &pid, "-a", "sh", "-c", LOOK]);
    assert_eq!(r.assert_ok().stdout, expected_look(t.pid));
    // Differential: util-linux sees the same.
    let u = sh(&format!("{UTIL_LINUX} -t {pid} -a sh -c '{LOOK}'"));
    assert_eq!(u.assert_ok().stdout, r.stdout);
}

#[test]
fn nsenter_all_as_owner_of_the_target_user_namespace() {
    let t = box_target(true);
    let pid = t.pid.to_string();
    let r = run_as_nobody("nsenter", &["-t", &pid, "-a", "sh", "-c", LOOK]);
    assert_eq!(r.assert_ok().stdout, expected_look(t.pid));
    let r = run_as_nobody("nsenter", &["-t", &pid, "-a", "id", "-u"]);
    assert_eq!(r.assert_ok().stdout, "0\n");
    // Differs on purpose: util-linux 2.38's --all also re-enters our own
    // time namespace, after the target's user namespace, where nobody has
    // no rights over it (EPERM). Ours tries that too (one setns(pidfd),
    // refused, nothing entered), then leaves out the namespaces we are
    // already in and enters the rest in one setns(pidfd).
    let u = sh_as_nobody(&format!("{UTIL_LINUX} -t {pid} -a true"));
    u.assert_fails_with(1, "'ns/time'");
    // Naming the kinds that differ, util-linux agrees with ours. It needs
    // --preserve-credentials: 2.38 fails on setgroups(2) where the namespace
    // denies it, which ours (and upstream since) tolerates.
    let u = sh_as_nobody(&format!(
        "{UTIL_LINUX} -t {pid} -U -m -u -i -n -p -C --preserve-credentials sh -c '{LOOK}'"
    ));
    assert_eq!(u.assert_ok().stdout, expected_look(t.pid));
}

#[test]
fn nsenter_unprivileged_into_a_root_target_is_refused_by_name() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let dir = scratch("nsenter-eperm");
    let marker = dir.join("ran");
    let m = marker.to_str().unwrap();
    let r = run_as_nobody("nsenter", &["-t", &pid, "-n", "touch", m]);
    r.assert_code(1);
    assert!(r.stderr.starts_with("nsenter: "), "{}", r.stderr);
    // The kernel refuses to open another user's namespace file (ptrace
    // access mode), before anything is entered.
    assert!(r.stderr.contains("ns/net"), "{}", r.stderr);
    assert!(
        r.stderr.contains("Permission denied") || r.stderr.contains("Operation not permitted"),
        "{}",
        r.stderr
    );
    assert!(!marker.exists());
    let u = run_command(
        {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                UTIL_LINUX,
            ])
            .args(["-t", &pid, "-n", "touch", m]);
            c
        },
        TIMEOUT,
    );
    u.assert_code(1);
    assert!(!marker.exists());
}

/// The pidfs inode of a process, as `PID:INODE` names it.
fn pidfd_inode(pid: u32) -> u64 {
    let r = sh(&format!(
        "python3 -c 'import os; print(os.fstat(os.pidfd_open({pid})).st_ino)'"
    ));
    r.assert_ok().stdout.trim().parse().unwrap()
}

#[test]
fn nsenter_target_with_its_inode_enters() {
    let t = box_target(false);
    let target = format!("{}:{}", t.pid, pidfd_inode(t.pid));
    let r = run("nsenter", &["-t", &target, "-u", "hostname"]);
    assert_eq!(r.assert_ok().stdout, "box\n");
}

#[test]
fn nsenter_target_inode_mismatch_is_refused_and_nothing_runs() {
    let t = box_target(false);
    let other = box_target(false);
    let dir = scratch("nsenter-inode");
    let marker = dir.join("ran");
    let target = format!("{}:{}", t.pid, pidfd_inode(other.pid));
    let r = run(
        "nsenter",
        &["-t", &target, "-u", "touch", marker.to_str().unwrap()],
    );
    r.assert_fails_with(1, &format!("process {}", t.pid));
    assert!(!marker.exists());
}

/// In a PID namespace of its own, the script kills the target and steers
/// the next PID onto it (ns_last_pid), so that a new process with another
/// UTS namespace holds the PID the caller looked up: the bare PID now leads
/// to the impostor, and PID:INODE must refuse it.
fn replaced_target_script(dir: &std::path::Path) -> String {
    format!(
        r#"
        set -u
        sleep 60 & A=$!
        INODE=$(python3 -c "import os; print(os.fstat(os.pidfd_open($A)).st_ino)")
        kill -9 $A; wait $A 2>/dev/null
        echo $((A - 1)) > /proc/sys/kernel/ns_last_pid
        unshare --uts --hostname=impostor sleep 60 & B=$!
        [ "$B" = "$A" ] || {{ echo "pid not reused: $A $B"; exit 99; }}
        for _ in $(seq 1000); do [ "$(cat /proc/$B/comm)" = sleep ] && break; sleep 0.01; done
        nsenter -t "$A" -u hostname
        nsenter -t "$A:$INODE" -u sh -c 'hostname > {dir}/seen'
        echo "rc=$?"
        setns-run "$A:$INODE" -- sh -c 'hostname > {dir}/seen2'
        echo "rc=$?"
        kill -9 $B
        "#,
        dir = dir.display()
    )
}

#[test]
fn nsenter_target_replaced_after_lookup_enters_nothing() {
    let dir = scratch("nsenter-replaced");
    let script = replaced_target_script(&dir);
    let r = run(
        "unshare",
        &["--pid", "--fork", "--mount-proc", "bash", "-c", &script],
    );
    assert_eq!(
        r.assert_ok().stdout,
        "impostor\nrc=1\nrc=125\n",
        "{}",
        r.stderr
    );
    assert!(!dir.join("seen").exists());
    assert!(!dir.join("seen2").exists());
}

#[test]
fn nsenter_target_replaced_after_lookup_enters_nothing_unprivileged() {
    let dir = scratch("nsenter-replaced-nobody");
    let script = replaced_target_script(&dir);
    let r = run_as_nobody(
        "unshare",
        &[
            "-r",
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            &script,
        ],
    );
    assert_eq!(
        r.assert_ok().stdout,
        "impostor\nrc=1\nrc=125\n",
        "{}",
        r.stderr
    );
    assert!(!dir.join("seen").exists());
    assert!(!dir.join("seen2").exists());
}

/// A zombie: a child of `sleep` that has exited and is never reaped.
struct Zombie {
    parent: std::process::Child,
    pid: u32,
}

impl Drop for Zombie {
    fn drop(&mut self) {
        let _ = self.parent.kill();
        let _ = self.parent.wait();
    }
}

fn zombie() -> Zombie {
    let parent = Command::new("sh")
        .args(["-c", "true & exec sleep 60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let p = parent.id();
    let mut pid = 0;
    wait_until("a zombie", || {
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        let Some(c) = children.split_whitespace().next() else {
            return false;
        };
        let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().to_string());
        if state.map(|s| s.starts_with('Z')).unwrap_or(false) {
            pid = c.parse().unwrap();
            return true;
        }
        false
    });
    Zombie { parent, pid }
}

#[test]
fn nsenter_target_exited_enters_nothing() {
    let z = zombie();
    let dir = scratch("nsenter-exited");
    let marker = dir.join("ran");
    let pid = z.pid.to_string();
    let r = run(
        "nsenter",
        &["-t", &pid, "-n", "touch", marker.to_str().unwrap()],
    );
    r.assert_fails_with(1, &format!("process {pid}"));
    assert!(r.stderr.contains("exited"), "{}", r.stderr);
    let r = run(
        "nsenter",
        &["-t", &pid, "-a", "touch", marker.to_str().unwrap()],
    );
    r.assert_code(1);
    let u = sh(&format!(
        "{UTIL_LINUX} -t {pid} -n touch {}",
        marker.display()
    ));
    u.assert_code(1);
    assert!(!marker.exists());
    // A PID that never existed.
    let r = run("nsenter", &["-t", "2147483647", "-n", "true"]);
    r.assert_fails_with(1, "2147483647");
}

#[test]
fn nsenter_net_file_persisted_by_our_unshare() {
    let dir = scratch("nsenter-netfile");
    let script = format!(
        r#"
        set -e
        mount -t tmpfs tmpfs {d}
        touch {d}/net
        unshare --net={d}/net true
        nsenter --net={d}/net ip -o link | cut -d: -f2 | tr -d ' '
        nsenter -n{d}/net readlink /proc/self/ns/net > {d}/a
        stat -L -c 'net:[%i]' {d}/net > {d}/b
        cmp {d}/a {d}/b && echo same
        {ul} --net={d}/net ip -o link | cut -d: -f2 | tr -d ' '
        umount {d}/net
        "#,
        d = dir.display(),
        ul = UTIL_LINUX
    );
    let r = run("unshare", &["-m", "bash", "-c", &script]);
    assert_eq!(r.assert_ok().stdout, "lo\nsame\nlo\n", "{}", r.stderr);
}

#[test]
fn nsenter_net_file_made_by_ip_netns_add() {
    // A private mount namespace with a tmpfs over /run: the host's
    // /run/netns is never touched.
    let script = r#"
        set -e
        mount -t tmpfs tmpfs /run
        ip netns add blue
        ip -n blue addr add 10.9.8.7/32 dev lo
        nsenter --net=/run/netns/blue ip -o -4 addr | awk '{print $2, $4}'
        /usr/bin/nsenter --net=/run/netns/blue ip -o -4 addr | awk '{print $2, $4}'
        nsenter --net=/run/netns/blue readlink /proc/self/ns/net > /run/a
        stat -L -c 'net:[%i]' /run/netns/blue > /run/b
        cmp /run/a /run/b && echo same
        ip netns del blue
        "#;
    let r = run("unshare", &["-m", "bash", "-c", script]);
    assert_eq!(
        r.assert_ok().stdout,
        "lo 10.9.8.7/32\nlo 10.9.8.7/32\nsame\n",
        "{}",
        r.stderr
    );
}

#[test]
fn nsenter_kind_mismatch_and_non_namespace_files_are_refused() {
    let r = run("nsenter", &["--net=/proc/self/ns/uts", "true"]);
    r.assert_fails_with(1, "is a uts namespace, not a net namespace");
    let r = run("nsenter", &["--net=/etc/passwd", "true"]);
    r.assert_fails_with(1, "/etc/passwd: not a namespace file");
    // util-linux also fails on both (EINVAL from setns), with status 1.
    sh(&format!("{UTIL_LINUX} --net=/proc/self/ns/uts true")).assert_code(1);
    sh(&format!("{UTIL_LINUX} --net=/etc/passwd true")).assert_code(1);
    let r = run("nsenter", &["-n", "true"]);
    r.assert_code(1);
    assert_eq!(
        r.stderr,
        "nsenter: neither filename nor target pid supplied for ns/net\n"
    );
}

#[test]
fn nsenter_own_user_namespace_fails_with_einval() {
    let me = std::process::id().to_string();
    let r = run("nsenter", &["-t", &me, "-U", "true"]);
    r.assert_code(1);
    assert_eq!(
        r.stderr,
        "nsenter: reassociate to namespace 'ns/user' failed: Invalid argument\n"
    );
    sh(&format!("{UTIL_LINUX} -t {me} -U true")).assert_code(1);
    // --all leaves our own user namespace out.
    run("nsenter", &["-t", &me, "-a", "true"]).assert_ok();
}

#[test]
fn nsenter_passes_on_exit_status_and_signal_death() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    for tool in ["nsenter", UTIL_LINUX] {
        let r = sh(&format!("{tool} -t {pid} -a sh -c 'exit 7'"));
        r.assert_code(7);
        let r = sh(&format!(
            "{tool} -t {pid} -a sh -c 'kill -TERM $$'; echo $?"
        ));
        assert_eq!(r.assert_ok().stdout, "143\n", "{tool}");
        let r = sh(&format!("{tool} -t {pid} -a no-such-command-x"));
        r.assert_code(127);
        let r = sh(&format!("{tool} -t {pid} -a /etc/passwd"));
        r.assert_code(126);
    }
    let r = run("nsenter", &["-t", &pid, "-a", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(r.signal(), Some(9));
}

#[test]
fn nsenter_setuid_setgid_and_preserve_credentials() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    // Without a user namespace, -S/-G switch ids in ours.
    let r = run(
        "nsenter",
        &[
            "-t",
            &pid,
            "-n",
            "-S",
            "65534",
            "-G",
            "65534",
            "sh",
            "-c",
            "id -u; id -g; id -G",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "65534\n65534\n65534\n");
    // After a user namespace: root there by default.
    let r = run("nsenter", &["-t", &pid, "-U", "sh", "-c", "id -u; id -g"]);
    assert_eq!(r.assert_ok().stdout, "0\n0\n");
    // A namespace where our uid is 1000: uid 0 is not mapped, so the default
    // fails and --preserve-credentials keeps us as ourselves (1000 inside).
    let m = start_target(&["--map-user=1000", "--map-group=1000"], false, &[]);
    let mp = m.pid.to_string();
    for tool in ["nsenter", UTIL_LINUX] {
        sh(&format!("{tool} -t {mp} -U true")).assert_code(1);
        let r = sh(&format!(
            "{tool} -t {mp} -U --preserve-credentials sh -c 'id -u; id -g'"
        ));
        assert_eq!(r.assert_ok().stdout, "1000\n1000\n", "{tool}");
    }
    // follow: the ids of the target's owner (nobody's namespace root is
    // 65534 from here).
    let n = box_target(true);
    let np = n.pid.to_string();
    let r = run(
        "nsenter",
        &[
            "-t",
            &np,
            "-n",
            "-S",
            "follow",
            "-G",
            "follow",
            "sh",
            "-c",
            "id -u; id -g",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "65534\n65534\n");
    // Inside its user namespace the same process is 0:0, and follow reads
    // the ids as the entered namespace sees them.
    let r = run_as_nobody(
        "nsenter",
        &[
            "-t",
            &np,
            "-U",
            "-n",
            "--preserve-credentials",
            "-S",
            "follow",
            "-G",
            "follow",
            "sh",
            "-c",
            "id -u; id -g",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "0\n0\n");
    let r = run("nsenter", &["-S", "follow", "true"]);
    r.assert_fails_with(1, "no target PID specified for 'follow'");
}

#[test]
fn nsenter_root_wd_and_wdns() {
    let dir = scratch("nsenter-wd");
    let mut cmd = Command::new(applet("unshare"));
    cmd.args(["--fork", "-m", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs tmpfs {d} && mkdir {d}/inside && exec sleep 60",
            d = dir.display()
        ))
        .current_dir(&dir)
        .env("PATH", path_with_applets())
        .stdin(Stdio::null());
    let child = cmd.spawn().unwrap();
    let parent = child.id();
    let mut pid = 0;
    wait_until("the target", || {
        let c = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        if let Some(p) = c.split_whitespace().next() {
            if std::fs::read_to_string(format!("/proc/{p}/comm"))
                .unwrap_or_default()
                .trim()
                == "sleep"
            {
                pid = p.parse().unwrap();
                return true;
            }
        }
        false
    });
    let t = Target { child, pid };
    let p = t.pid.to_string();
    let d = dir.display().to_string();
    for tool in ["nsenter", UTIL_LINUX] {
        // -w: the target's working directory; entering the mount namespace
        // alone would leave us at its root.
        let r = sh(&format!("cd / && {tool} -t {p} -m -w pwd"));
        assert_eq!(r.assert_ok().stdout, format!("{d}\n"), "{tool}");
        let r = sh(&format!("cd / && {tool} -t {p} -m pwd"));
        assert_eq!(r.assert_ok().stdout, "/\n", "{tool}");
        // -W: resolved after entering, where the tmpfs is mounted.
        let r = sh(&format!("cd / && {tool} -t {p} -m -W {d}/inside pwd"));
        assert_eq!(r.assert_ok().stdout, format!("{d}/inside\n"), "{tool}");
        // -w DIR is opened before entering: our side of the mount point.
        let r = sh(&format!("cd / && {tool} -t {p} -m --wd={d} ls"));
        assert_eq!(r.assert_ok().stdout, "", "{tool}");
        // getopt(3) style: the optional value attached to the letter.
        let r = sh(&format!("cd / && {tool} -t {p} -m -w{d} ls"));
        assert_eq!(r.assert_ok().stdout, "", "{tool}");
        // -r: the target's root.
        let r = sh(&format!("{tool} -t {p} -m -r ls -d {d}/inside"));
        assert_eq!(r.assert_ok().stdout, format!("{d}/inside\n"), "{tool}");
        sh(&format!("{tool} -t {p} -w -W / true")).assert_code(1);
    }
}

#[test]
fn nsenter_no_fork_leaves_the_program_in_our_pid_namespace() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let host = ns_link("self", "pid");
    let target_pid = ns_link(&pid, "pid");
    for tool in ["nsenter", UTIL_LINUX] {
        let r = sh(&format!("{tool} -t {pid} -p readlink /proc/self/ns/pid"));
        assert_eq!(r.assert_ok().stdout, format!("{target_pid}\n"), "{tool}");
        let r = sh(&format!("{tool} -t {pid} -p -F readlink /proc/self/ns/pid"));
        assert_eq!(r.assert_ok().stdout, format!("{host}\n"), "{tool}");
    }
}

#[test]
fn nsenter_env_takes_the_targets_environment() {
    let t = start_target(&["-u"], false, &[("NSENTER_TEST_MARK", "from-target")]);
    let pid = t.pid.to_string();
    let mut cmd = Command::new(applet("nsenter"));
    cmd.args([
        "-t",
        &pid,
        "-u",
        "-e",
        "sh",
        "-c",
        "echo ${NSENTER_TEST_MARK:-none}",
    ])
    .env("NSENTER_TEST_MARK", "from-caller");
    let r = run_command(cmd, TIMEOUT);
    assert_eq!(r.assert_ok().stdout, "from-target\n");
    let mut cmd = Command::new(applet("nsenter"));
    cmd.args([
        "-t",
        &pid,
        "-u",
        "sh",
        "-c",
        "echo ${NSENTER_TEST_MARK:-none}",
    ])
    .env("NSENTER_TEST_MARK", "from-caller");
    let r = run_command(cmd, TIMEOUT);
    assert_eq!(r.assert_ok().stdout, "from-caller\n");
}

#[test]
fn nsenter_user_parent_enters_the_parent_user_namespace() {
    // The target sits two user namespaces down; its parent is the middle one.
    let t = start_target(&["-r", "unshare", "-r"], false, &[]);
    let pid = t.pid.to_string();
    let r = run(
        "nsenter",
        &[
            "-t",
            &pid,
            "-U",
            "--user-parent",
            "readlink",
            "/proc/self/ns/user",
        ],
    );
    let seen = r.assert_ok().stdout.trim().to_string();
    assert_ne!(seen, ns_link(&pid, "user"));
    assert_ne!(seen, ns_link("self", "user"));
    assert!(seen.starts_with("user:["), "{seen}");
}

#[test]
fn nsenter_follow_context_says_not_supported() {
    let r = run("nsenter", &["-t", "1", "-Z", "true"]);
    r.assert_fails_with(1, "not supported");
}

#[test]
fn nsenter_net_socket_enters_the_sockets_namespace() {
    // The target opens a socket (fd 7) in one new network namespace, then
    // moves on to another: -N follows the socket, not the process.
    let script = "import os, socket\n\
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
os.dup2(s.fileno(), 7)\n\
os.execvp('unshare', ['unshare', '-n', 'sleep', '60'])\n";
    let t = start_target(&["-n", "python3", "-c", script], false, &[]);
    let pid = t.pid.to_string();
    let r = run(
        "nsenter",
        &[
            "-t",
            &pid,
            "-N",
            "7",
            "sh",
            "-c",
            "readlink /proc/self/ns/net; ip -o link | cut -d: -f2",
        ],
    );
    let out = r.assert_ok().stdout.clone();
    let mut lines = out.lines();
    let seen = lines.next().unwrap();
    assert_ne!(seen, ns_link(&pid, "net"));
    assert_ne!(seen, ns_link("self", "net"));
    assert_eq!(lines.map(str::trim).collect::<Vec<_>>(), ["lo"]);
    // -N needs a target.
    run("nsenter", &["-N", "7", "true"]).assert_code(1);
}

/// NS_GET_ID of a namespace file (`_IOR(0xb7, 13, u64)`, Linux 6.18).
fn ns_id(path: &str) -> u64 {
    let r = sh(&format!(
        "python3 -c 'import os, fcntl, struct; fd = os.open(\"{path}\", os.O_RDONLY); \
         print(struct.unpack(\"Q\", fcntl.ioctl(fd, 0x8008b70d, bytes(8)))[0])'"
    ));
    r.assert_ok().stdout.trim().parse().unwrap()
}

#[test]
fn nsenter_net_by_namespace_id() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let id = ns_id(&format!("/proc/{pid}/ns/net"));
    let r = run(
        "nsenter",
        &[&format!("--net=:{id}"), "readlink", "/proc/self/ns/net"],
    );
    assert_eq!(r.assert_ok().stdout, format!("{}\n", ns_link(&pid, "net")));
    // The id of a net namespace is no UTS namespace's.
    let r = run("nsenter", &[&format!("--uts=:{id}"), "true"]);
    r.assert_fails_with(1, &format!("uts namespace with id {id}"));
    let r = run("nsenter", &["--net=:nope", "true"]);
    r.assert_fails_with(1, "invalid namespace id ':nope'");
}

/// The cgroup v2 mount point, from our mountinfo.
fn cgroup2_root() -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split(' ').next()? == "cgroup2").then(|| left.split(' ').nth(4).unwrap().to_string())
    })
}

/// A cgroup of the test's own, removed on drop (after its processes end).
struct Cgroup(std::path::PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..200 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn nsenter_join_cgroup_moves_the_program_into_the_targets_cgroup() {
    let Some(root) = cgroup2_root() else {
        eprintln!("no cgroup v2 hierarchy: skipped");
        return;
    };
    let name = format!("nstools-nsenter-{}", std::process::id());
    let dir = std::path::Path::new(&root).join(&name);
    std::fs::create_dir(&dir).unwrap();
    let cg = Cgroup(dir.clone());
    let t = start_target(&["-u"], false, &[]);
    std::fs::write(dir.join("cgroup.procs"), t.pid.to_string()).unwrap();
    let pid = t.pid.to_string();
    let r = run(
        "nsenter",
        &["-t", &pid, "-c", "grep", "^0::", "/proc/self/cgroup"],
    );
    assert_eq!(r.assert_ok().stdout, format!("0::/{name}\n"));
    let r = run(
        "nsenter",
        &["-t", &pid, "grep", "^0::", "/proc/self/cgroup"],
    );
    assert_ne!(r.assert_ok().stdout, format!("0::/{name}\n"));
    drop(t);
    drop(cg);
}

#[test]
fn nsenter_keep_caps_makes_them_ambient() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let amb = |extra: &[&str]| {
        let mut args = vec!["-t", pid.as_str(), "-U"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["grep", "CapAmb", "/proc/self/status"]);
        let r = run("nsenter", &args);
        let line = r.assert_ok().stdout.clone();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(amb(&[]), 0);
    // CAP_SYS_ADMIN (21) among the ambient capabilities.
    assert_ne!(amb(&["--keep-caps"]) & (1 << 21), 0);
}

#[test]
fn no_descriptor_of_ours_leaks_into_the_program() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    // What the harness itself passes on is the baseline.
    let fds = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r.stdout.split_whitespace().map(String::from).collect();
        v.sort();
        v
    };
    let mut ls = Command::new("ls");
    ls.arg("/proc/self/fd");
    let baseline = fds(run_command(ls, TIMEOUT).assert_ok());
    let r = run(
        "nsenter",
        &["-t", &pid, "-a", "-r", "-w", "-e", "ls", "/proc/self/fd"],
    );
    assert_eq!(fds(r.assert_ok()), baseline);
    let r = run("setns-run", &[&pid, "--", "ls", "/proc/self/fd"]);
    assert_eq!(fds(r.assert_ok()), baseline);
}

#[test]
fn nsenter_forks_for_a_pid_namespace_even_our_own() {
    // The program is nsenter's child (so its PID is not nsenter's) as with
    // util-linux, even though entering our own PID namespace changes nothing.
    let me = std::process::id().to_string();
    for tool in ["nsenter", UTIL_LINUX] {
        let r = sh(&format!(
            "{tool} -t {me} -p sh -c 'echo $PPID' & wait; echo $!"
        ));
        let out = r.assert_ok().stdout.clone();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{tool}: {out}");
        assert_eq!(
            lines[0], lines[1],
            "{tool}: the program's parent is the tool"
        );
    }
}

#[test]
fn nsenter_target_may_be_a_thread_in_namespaces_of_its_own() {
    // A thread (not its group's leader) moves to a UTS namespace of its own:
    // -t TID enters the thread's, as util-linux does through /proc/TID.
    let script = r#"
import ctypes, os, socket, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
ready, done = threading.Event(), threading.Event()
def own_uts():
    assert libc.unshare(0x04000000) == 0
    socket.sethostname("thread")
    ready.set(); done.wait(30)
t = threading.Thread(target=own_uts); t.start(); ready.wait(30)
tid = [int(x) for x in os.listdir("/proc/self/task") if int(x) != os.getpid()][0]
for tool in sys.argv[1:]:
    r = subprocess.run([tool, "-t", str(tid), "-u", "hostname"], capture_output=True, text=True)
    print(r.returncode, r.stdout.strip(), r.stderr.strip())
done.set(); t.join()
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .arg(applet("nsenter"))
        .arg(UTIL_LINUX);
    let r = run_command(cmd, TIMEOUT);
    assert_eq!(
        r.assert_ok().stdout,
        "0 thread \n0 thread \n",
        "{}",
        r.stderr
    );
}

#[test]
fn nsenter_refuses_a_proc_of_another_pid_namespace() {
    // Inside the target's mount namespace but not its PID namespace, /proc
    // shows the target's PIDs: /proc/1 there is not our PID 1. Differs on
    // purpose: util-linux would enter the namespaces of the wrong process.
    let t = box_target(false);
    let pid = t.pid.to_string();
    let r = run(
        "nsenter",
        &[
            "-t", &pid, "-m", "-F", "nsenter", "-t", "1", "-u", "hostname",
        ],
    );
    r.assert_fails_with(1, "/proc: does not show our PID namespace");
}

#[test]
fn nsenter_time_namespace_shows_the_targets_clocks() {
    let t = start_target(&["-T", "--boottime=864000"], false, &[]);
    let pid = t.pid.to_string();
    let host_up = host_uptime();
    for tool in ["nsenter", UTIL_LINUX] {
        let r = sh(&format!(
            "{tool} -t {pid} -T sh -c 'readlink /proc/self/ns/time; cut -d\" \" -f1 /proc/uptime'"
        ));
        let out = r.assert_ok().stdout.clone();
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap(), ns_link(&pid, "time"), "{tool}");
        let up: f64 = lines.next().unwrap().parse().unwrap();
        assert!(up >= host_up + 864000.0, "{tool}: {up} vs {host_up}");
    }
    // setns-run enters it too, as part of the target's set.
    let r = run("setns-run", &[&pid, "--", "readlink", "/proc/self/ns/time"]);
    assert_eq!(r.assert_ok().stdout, format!("{}\n", ns_link(&pid, "time")));
}

// With a PID namespace to enter, nsenter spawns its child (clone with
// CLONE_VM | CLONE_VFORK, as posix_spawn does) when the child's work is
// only the switch of ids, the environment and exec; with --keep-caps it
// forks. The cases below run both ways: as given (spawned), and with
// `--keep-caps`, which changes nothing where no user namespace is entered
// and only the ambient set (which no case here shows) where one is.

/// `nsenter -t PID -a REST...` through `spawned_and_forked`.
fn enter_all_both_ways(as_nobody: bool, pid: &str, rest: &[&str]) -> Run {
    let mut args = vec!["-t", pid, "-a"];
    args.extend(rest);
    spawned_and_forked(as_nobody, &[], &args)
}

/// `nsenter ARGS` (as uid 65534 when `as_nobody`), spawned and forked, with
/// `env` set: the same status, output and messages both ways. Returns the
/// spawned run.
fn spawned_and_forked(as_nobody: bool, env: &[(&str, &str)], args: &[&str]) -> Run {
    let with = |extra: Option<&str>| {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(applet("nsenter"))
                .current_dir("/");
            c
        } else {
            Command::new(applet("nsenter"))
        };
        cmd.args(extra).args(args).env("PATH", path_with_applets());
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_command(cmd, TIMEOUT)
    };
    let spawned = with(None);
    let forked = with(Some("--keep-caps"));
    spawned.assert_same_as(
        &forked,
        &format!("nsenter {args:?}: spawned (left) and forked (right)"),
    );
    spawned
}

/// The clone and fork calls of `nsenter ARGS`, as strace shows them.
fn clones_of(args: &[&str]) -> Option<String> {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: no strace");
        return None;
    }
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-e", "trace=clone,clone3,fork,vfork", "--"])
        .arg(applet("nsenter"))
        .args(args);
    let r = run_command(cmd, TIMEOUT);
    r.assert_ok();
    Some(r.stderr)
}

#[test]
fn nsenter_spawned_child_is_a_clone_sharing_memory_and_a_forked_one_is_not() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let Some(spawned) = clones_of(&["-t", &pid, "-a", "-S", "0", "-G", "0", "true"]) else {
        return;
    };
    assert!(
        spawned.contains("CLONE_VM|CLONE_VFORK"),
        "not spawned: {spawned}"
    );
    let forked = clones_of(&["-t", &pid, "-a", "--keep-caps", "true"]).unwrap();
    assert!(!forked.contains("CLONE_VM"), "not forked: {forked}");
}

#[test]
fn nsenter_spawned_and_forked_children_pass_exit_statuses_and_deaths_on() {
    for as_nobody in [false, true] {
        let t = box_target(as_nobody);
        let pid = t.pid.to_string();
        let all = |rest: &[&str]| enter_all_both_ways(as_nobody, &pid, rest);
        all(&["sh", "-c", "exit 7"]).assert_code(7);
        all(&["true"]).assert_code(0);
        let r = all(&["sh", "-c", "kill -USR1 $$"]);
        assert_eq!(r.signal(), Some(libc::SIGUSR1), "{:?}", r.status);
        let r = all(&["sh", "-c", "kill -KILL $$"]);
        assert_eq!(r.signal(), Some(libc::SIGKILL), "{:?}", r.status);
        // The program runs with our caller's signal mask, not the
        // all-blocked mask held around the clone, in the target's PID
        // namespace, as its root.
        let r = all(&[
            "sh",
            "-c",
            "grep -E '^Sig(Blk|Ign)' /proc/self/status | head -1; \
             readlink /proc/self/ns/pid; id -u; id -g",
        ]);
        assert_eq!(
            r.assert_ok().stdout,
            format!(
                "SigBlk:\t0000000000000000\n{}\n0\n0\n",
                ns_link(&pid, "pid")
            ),
            "as nobody: {as_nobody}"
        );
    }
}

#[test]
fn nsenter_spawned_and_forked_children_report_a_missing_or_unexecutable_program_alike() {
    let dir = scratch("nsenter-spawn-exec");
    let data = dir.join("data");
    std::fs::write(&data, "data\n").unwrap();
    set_mode(&data, 0o644);
    set_mode(&dir, 0o755);
    for as_nobody in [false, true] {
        let t = box_target(as_nobody);
        let pid = t.pid.to_string();
        let all = |rest: &[&str]| enter_all_both_ways(as_nobody, &pid, rest);
        let r = all(&["no-such-program-nstools"]);
        r.assert_code(127);
        assert_eq!(
            r.stderr,
            "nsenter: failed to execute no-such-program-nstools: No such file or directory\n"
        );
        all(&["/no/such/dir/prog"]).assert_code(127);
        let r = all(&[data.to_str().unwrap()]);
        r.assert_code(126);
        assert_eq!(
            r.stderr,
            format!(
                "nsenter: failed to execute {}: Permission denied\n",
                data.display()
            )
        );
        all(&[dir.to_str().unwrap()]).assert_code(126);
    }
}

#[test]
fn nsenter_spawned_and_forked_children_switch_ids_alike() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let show = "id -u; id -g; id -G";
    // Without a user namespace, -S/-G switch ids in ours (and drop the
    // supplementary groups).
    let r = spawned_and_forked(
        false,
        &[],
        &[
            "-t", &pid, "-p", "-n", "-S", "65534", "-G", "65534", "sh", "-c", show,
        ],
    );
    assert_eq!(r.assert_ok().stdout, "65534\n65534\n65534\n");
    let r = spawned_and_forked(
        false,
        &[],
        &["-t", &pid, "-p", "-S", "65534", "sh", "-c", show],
    );
    assert_eq!(r.assert_ok().stdout, "65534\n0\n0\n");
    // In the target's user namespace (from -r: only 0 mapped), an unmapped
    // id is refused by setgid(2) in the child, in the same words.
    let r = spawned_and_forked(false, &[], &["-t", &pid, "-a", "-G", "65534", "true"]);
    r.assert_code(1);
    assert_eq!(r.stderr, "nsenter: setgid failed: Invalid argument\n");
    let r = spawned_and_forked(false, &[], &["-t", &pid, "-a", "-S", "65534", "true"]);
    r.assert_code(1);
    assert_eq!(r.stderr, "nsenter: setuid failed: Invalid argument\n");
    // --preserve-credentials: no switch at all; a namespace where our uid
    // is 1000 and 0 is unmapped shows it.
    let m = start_target(
        &["--pid", "--map-user=1000", "--map-group=1000"],
        false,
        &[],
    );
    let mp = m.pid.to_string();
    spawned_and_forked(false, &[], &["-t", &mp, "-U", "-p", "true"]).assert_code(1);
    let r = spawned_and_forked(
        false,
        &[],
        &[
            "-t",
            &mp,
            "-U",
            "-p",
            "--preserve-credentials",
            "sh",
            "-c",
            show,
        ],
    );
    assert_eq!(r.assert_ok().stdout, "1000\n1000\n1000\n");
    // As the unprivileged owner: its namespace denies setgroups(2), which
    // the switch to root there tolerates; follow reads the target's ids
    // as the entered namespace sees them.
    let n = box_target(true);
    let np = n.pid.to_string();
    let r = spawned_and_forked(true, &[], &["-t", &np, "-a", "sh", "-c", show]);
    assert_eq!(r.assert_ok().stdout, "0\n0\n0\n");
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{np}/setgroups")).unwrap(),
        "deny\n"
    );
    let r = spawned_and_forked(
        true,
        &[],
        &[
            "-t", &np, "-a", "-S", "follow", "-G", "follow", "sh", "-c", show,
        ],
    );
    assert_eq!(r.assert_ok().stdout, "0\n0\n0\n");
    let r = spawned_and_forked(
        true,
        &[],
        &["-t", &np, "-a", "--preserve-credentials", "sh", "-c", show],
    );
    assert_eq!(r.assert_ok().stdout, "0\n0\n0\n");
    let r = spawned_and_forked(true, &[], &["-t", &np, "-a", "-G", "5", "true"]);
    r.assert_code(1);
    assert_eq!(r.stderr, "nsenter: setgid failed: Invalid argument\n");
}

#[test]
fn nsenter_spawned_and_forked_children_take_the_targets_environment_alike() {
    let dir = scratch("nsenter-spawn-env");
    set_mode(&dir, 0o755);
    let prog = dir.join("prog-nstools");
    std::fs::write(&prog, "#!/bin/sh\necho \"prog $NSENTER_TEST_MARK\"\n").unwrap();
    set_mode(&prog, 0o755);
    let target_path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", dir.display());
    for as_nobody in [false, true] {
        let t = start_target(
            &["--pid", "--mount-proc", "-rmu"],
            as_nobody,
            &[
                ("NSENTER_TEST_MARK", "from-target"),
                ("PATH", &target_path),
                ("SHELL", "/no/such/shell"),
            ],
        );
        let pid = t.pid.to_string();
        let caller = [("NSENTER_TEST_MARK", "from-caller"), ("SHELL", "/bin/sh")];
        let r = spawned_and_forked(
            as_nobody,
            &caller,
            &[
                "-t",
                &pid,
                "-a",
                "-e",
                "sh",
                "-c",
                "echo $NSENTER_TEST_MARK $PATH",
            ],
        );
        assert_eq!(r.assert_ok().stdout, format!("from-target {target_path}\n"));
        // The program is searched on the target's PATH.
        let r = spawned_and_forked(
            as_nobody,
            &caller,
            &["-t", &pid, "-a", "-e", "prog-nstools"],
        );
        assert_eq!(r.assert_ok().stdout, "prog from-target\n");
        let r = spawned_and_forked(as_nobody, &caller, &["-t", &pid, "-a", "prog-nstools"]);
        r.assert_code(127);
        // With no program, the target's $SHELL.
        let r = spawned_and_forked(as_nobody, &caller, &["-t", &pid, "-a", "-e"]);
        r.assert_code(127);
        assert_eq!(
            r.stderr,
            "nsenter: failed to execute /no/such/shell: No such file or directory\n"
        );
        // Without -e, ours.
        let r = spawned_and_forked(
            as_nobody,
            &caller,
            &["-t", &pid, "-a", "sh", "-c", "echo $NSENTER_TEST_MARK"],
        );
        assert_eq!(r.assert_ok().stdout, "from-caller\n");
    }
}

#[test]
fn nsenter_spawned_and_forked_children_enter_a_time_namespace_alike() {
    // setns(2) into a time namespace moves our own time namespace with the
    // one for children, so clone(2) takes CLONE_VM there too.
    for as_nobody in [false, true] {
        let t = start_target(
            &["--pid", "--mount-proc", "-rmT", "--boottime=864000"],
            as_nobody,
            &[],
        );
        let pid = t.pid.to_string();
        let host_up = host_uptime();
        let look = format!(
            "readlink /proc/self/ns/time; awk '{{ print ($1 >= {}) }}' /proc/uptime",
            host_up + 864000.0
        );
        for extra in [&["-a"][..], &["-U", "-T", "-p", "-m"][..]] {
            let mut args = vec!["-t", pid.as_str()];
            args.extend(extra);
            args.extend(["sh", "-c", &look]);
            let r = spawned_and_forked(as_nobody, &[], &args);
            assert_eq!(
                r.assert_ok().stdout,
                format!("{}\n1\n", ns_link(&pid, "time")),
                "{extra:?}, as nobody: {as_nobody}"
            );
        }
    }
}
