//! `setns-run` run for real: namespaces given as files or processes, the
//! order of entry, the plan, and coreutils-style exit statuses.

mod common;

use std::process::{Command, Stdio};

use common::*;

const KINDS: [&str; 8] = ["mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time"];

fn box_target(as_nobody: bool) -> Target {
    start_target(
        &["--pid", "--mount-proc", "-rmuinC", "--hostname=box"],
        as_nobody,
        &[],
    )
}

const LOOK: &str = "hostname; ip -o link | cut -d: -f2 | tr -d [:blank:]; \
    for k in mnt uts ipc net pid user cgroup time; do readlink /proc/self/ns/$k; done";

fn expected_look(pid: u32) -> String {
    let mut s = String::from("box\nlo\n");
    for k in KINDS {
        s.push_str(&ns_link(&pid.to_string(), k));
        s.push('\n');
    }
    s
}

#[test]
fn setns_run_pid_enters_every_namespace_of_the_target() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let r = run("setns-run", &[&pid, "--", "sh", "-c", LOOK]);
    assert_eq!(r.assert_ok().stdout, expected_look(t.pid));
    let r = run("setns-run", &[&pid, "--", "id", "-u"]);
    assert_eq!(r.assert_ok().stdout, "0\n");
}

#[test]
fn setns_run_pid_as_owner_of_the_target_user_namespace() {
    let t = box_target(true);
    let pid = t.pid.to_string();
    let r = run_as_nobody("setns-run", &[&pid, "--", "sh", "-c", LOOK]);
    assert_eq!(r.assert_ok().stdout, expected_look(t.pid));
    let r = run_as_nobody(
        "setns-run",
        &["--preserve-credentials", &pid, "--", "id", "-u"],
    );
    // Our uid 65534 is the namespace's 0.
    assert_eq!(r.assert_ok().stdout, "0\n");
}

#[test]
fn setns_run_verbose_names_each_namespace_entered() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let r = run("setns-run", &["-v", &pid, "--", "true"]);
    r.assert_ok();
    for k in ["user", "uts", "net", "mnt", "pid", "ipc", "cgroup"] {
        let line = format!("setns-run: entered {}", ns_link(&pid, k));
        assert!(r.stderr.contains(&line), "{line} not in {}", r.stderr);
    }
    // Our own time namespace is left out: we are already in it.
    assert!(!r.stderr.contains("time:"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("pidfd of process {pid}")),
        "{}",
        r.stderr
    );
}

#[test]
fn setns_run_dry_run_prints_the_plan_and_enters_nothing() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let dir = scratch("setns-dry");
    let marker = dir.join("ran");
    let r = run(
        "setns-run",
        &["-n", &pid, "--", "touch", marker.to_str().unwrap()],
    );
    let out = r.assert_ok().stdout.clone();
    assert!(!marker.exists());
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ORDER"), "{out}");
    let user_inode = ns_link(&pid, "user")
        .trim_start_matches("user:[")
        .trim_end_matches(']')
        .to_string();
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&first[..3], ["1", "user", user_inode.as_str()], "{out}");
    assert!(lines[1].contains(&format!("CAP_SYS_ADMIN in user:[{user_inode}]")));
    let net = lines.iter().find(|l| l.contains(" net ")).unwrap();
    let net_inode = ns_link(&pid, "net");
    assert!(net.contains(net_inode.trim_start_matches("net:[").trim_end_matches(']')));
    assert!(out.contains("one setns(2) on the pidfd"), "{out}");
    // No command is needed for a plan.
    run("setns-run", &["-n", &pid]).assert_ok();
}

#[test]
fn setns_run_user_namespace_goes_last_when_it_does_not_own_the_rest() {
    // Our own UTS namespace is owned by the initial user namespace: after
    // the target's user namespace we would have no right to enter it, so the
    // plan enters it first and the user namespace last. (/proc/self is
    // setns-run itself, which opens every file before entering any.)
    let t = box_target(false);
    let pid = t.pid.to_string();
    let user = format!("/proc/{pid}/ns/user");
    let r = run("setns-run", &["-n", &user, "/proc/self/ns/uts"]);
    let out = r.assert_ok().stdout.clone();
    let order: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .take(2)
        .collect();
    assert_eq!(order, ["uts", "user"], "{out}");
    assert!(out.contains("one setns(2) per namespace"), "{out}");
    let r = run(
        "setns-run",
        &[
            &user,
            "/proc/self/ns/uts",
            "--",
            "readlink",
            "/proc/self/ns/user",
            "/proc/self/ns/uts",
        ],
    );
    assert_eq!(
        r.assert_ok().stdout,
        format!("{}\n{}\n", ns_link(&pid, "user"), ns_link("self", "uts"))
    );
    // The target's own UTS namespace is owned by its user namespace: user first.
    let uts = format!("/proc/{pid}/ns/uts");
    let r = run("setns-run", &["-n", &uts, &user]);
    let out = r.assert_ok().stdout.clone();
    assert_eq!(
        out.lines().nth(1).unwrap().split_whitespace().nth(1),
        Some("user")
    );
}

#[test]
fn setns_run_file_persisted_by_our_unshare_and_ip_netns() {
    let dir = scratch("setns-files");
    let script = format!(
        r#"
        set -e
        mount -t tmpfs tmpfs {d}
        touch {d}/uts
        unshare --uts={d}/uts hostname persisted
        setns-run {d}/uts -- hostname
        setns-run uts:{d}/uts -- hostname
        mount -t tmpfs tmpfs /run
        ip netns add blue
        ip -n blue addr add 10.9.8.7/32 dev lo
        setns-run /run/netns/blue -- ip -o -4 addr | awk '{{print $2, $4}}'
        setns-run net:/run/netns/blue {d}/uts -- sh -c 'hostname; readlink /proc/self/ns/net' > {d}/seen
        stat -L -c 'net:[%i]' /run/netns/blue > {d}/want
        sed -n 2p {d}/seen | cmp - {d}/want && head -1 {d}/seen
        ip netns del blue
        umount {d}/uts
        "#,
        d = dir.display()
    );
    let r = run("unshare", &["-m", "bash", "-c", &script]);
    assert_eq!(
        r.assert_ok().stdout,
        "persisted\npersisted\nlo 10.9.8.7/32\npersisted\n",
        "{}",
        r.stderr
    );
}

#[test]
fn setns_run_errors_name_the_culprit_and_exit_125() {
    let dir = scratch("setns-errors");
    let marker = dir.join("ran");
    let m = marker.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["/etc/passwd", "--", "touch", m],
            "/etc/passwd: not a namespace file",
        ),
        (
            &["/no/such/file", "--", "touch", m],
            "cannot open /no/such/file",
        ),
        (
            &["net:/proc/self/ns/uts", "--", "touch", m],
            "/proc/self/ns/uts: is a uts namespace, not a net namespace",
        ),
        (
            &["2147483647", "--", "touch", m],
            "process 2147483647: no such process",
        ),
        (
            &["/proc/self/ns/uts", "touch", m],
            "missing '--' before COMMAND",
        ),
        (&["/proc/self/ns/uts", "--"], "missing COMMAND after '--'"),
        (
            &[
                "/proc/self/ns/uts",
                "uts:/proc/self/ns/uts",
                "--",
                "touch",
                m,
            ],
            "both are uts namespaces",
        ),
    ];
    for (args, msg) in cases {
        let r = run("setns-run", args);
        r.assert_code(125);
        assert!(r.stderr.starts_with("setns-run: "), "{}", r.stderr);
        assert!(r.stderr.contains(msg), "{msg} not in {}", r.stderr);
    }
    let r = run("setns-run", &["--", "true"]);
    r.assert_code(125);
    assert!(!marker.exists());
}

#[test]
fn setns_run_unprivileged_is_refused_and_nothing_runs() {
    let dir = scratch("setns-eperm");
    let marker = dir.join("ran");
    let r = run_as_nobody(
        "setns-run",
        &["/proc/self/ns/uts", "--", "touch", marker.to_str().unwrap()],
    );
    // Entering a UTS namespace of the initial user namespace without
    // CAP_SYS_ADMIN there: EPERM, even our own.
    r.assert_fails_with(125, "'ns/uts'");
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    assert!(!marker.exists());
}

#[test]
fn setns_run_exit_status_is_the_commands_or_126_127() {
    let uts = "/proc/self/ns/uts";
    run("setns-run", &[uts, "--", "sh", "-c", "exit 7"]).assert_code(7);
    run("setns-run", &[uts, "--", "no-such-command-x"]).assert_code(127);
    run("setns-run", &[uts, "--", "/etc/passwd"]).assert_code(126);
    let r = run("setns-run", &[uts, "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(r.signal(), Some(15));
    // Forked for a PID namespace: the child's end is passed on too.
    let t = box_target(false);
    let pid = t.pid.to_string();
    run("setns-run", &[&pid, "--", "sh", "-c", "exit 9"]).assert_code(9);
    let r = run("setns-run", &[&pid, "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(r.signal(), Some(9));
    run("setns-run", &[&pid, "--", "no-such-command-x"]).assert_code(127);
}

#[test]
fn setns_run_no_fork_root_wd_and_credentials() {
    let t = box_target(false);
    let pid = t.pid.to_string();
    let host_pid = ns_link("self", "pid");
    let r = run("setns-run", &[&pid, "--", "readlink", "/proc/self/ns/pid"]);
    assert_eq!(r.assert_ok().stdout, format!("{}\n", ns_link(&pid, "pid")));
    // Only the PID namespace, so that our /proc still shows /proc/self.
    let pidns = format!("pid:/proc/{pid}/ns/pid");
    let r = run(
        "setns-run",
        &[&pidns, "--", "readlink", "/proc/self/ns/pid"],
    );
    assert_eq!(r.assert_ok().stdout, format!("{}\n", ns_link(&pid, "pid")));
    let r = run(
        "setns-run",
        &["-F", &pidns, "--", "readlink", "/proc/self/ns/pid"],
    );
    assert_eq!(r.assert_ok().stdout, format!("{host_pid}\n"));
    // -w and -r are resolved after entering: /proc/1 is the target's.
    let r = run(
        "setns-run",
        &["-w", "/proc/1", &pid, "--", "sh", "-c", "pwd; cat comm"],
    );
    assert_eq!(r.assert_ok().stdout, "/proc/1\nsleep\n");
    // In an empty root there is no /bin/sh to run: 127, and the root moved.
    let root = scratch("setns-root");
    let r = run(
        "setns-run",
        &[
            "-r",
            root.to_str().unwrap(),
            &format!("/proc/{pid}/ns/uts"),
            "--",
            "/bin/sh",
            "-c",
            "true",
        ],
    );
    r.assert_fails_with(127, "failed to execute /bin/sh");
    // -S/-G without a user namespace switch ids in ours.
    let uts = format!("/proc/{pid}/ns/uts");
    let r = run(
        "setns-run",
        &[
            "-S",
            "65534",
            "-G",
            "65534",
            &uts,
            "--",
            "sh",
            "-c",
            "id -u; id -g; hostname",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "65534\n65534\nbox\n");
}

#[test]
fn setns_run_target_exited_enters_nothing() {
    let parent = Command::new("sh")
        .args(["-c", "true & exec sleep 60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let parent = Kill(parent);
    let p = parent.0.id();
    let mut zombie = String::new();
    wait_until("a zombie", || {
        let c = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        let Some(c) = c.split_whitespace().next() else {
            return false;
        };
        let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            == Some(true)
        {
            zombie = c.to_string();
            return true;
        }
        false
    });
    let dir = scratch("setns-exited");
    let marker = dir.join("ran");
    let r = run(
        "setns-run",
        &[&zombie, "--", "touch", marker.to_str().unwrap()],
    );
    r.assert_fails_with(125, &format!("process {zombie}: has exited"));
    assert!(!marker.exists());
}
