//! `unshare` run for real: each test checks what the kernel records.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn host_link(kind: &str) -> String {
    ns_link("self", kind)
}

#[test]
fn map_root_user_makes_the_caller_root_inside() {
    run("unshare", &["-r", "id", "-u"]).assert_ok();
    assert_eq!(run("unshare", &["-r", "id", "-u"]).stdout, "0\n");
    let r = run(
        "unshare",
        &[
            "-r",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
            "/proc/self/setgroups",
        ],
    );
    let words: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "1", "0", "0", "1", "deny"]);
}

#[test]
fn map_root_user_as_unprivileged_maps_own_id_and_denies_setgroups() {
    let r = run_as_nobody(
        "unshare",
        &[
            "-r",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
        ],
    );
    let words: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "65534", "1", "0", "65534", "1", "deny"]);
}

#[test]
fn map_current_user_keeps_the_same_ids() {
    let r = run_as_nobody(
        "unshare",
        &["-c", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map"],
    );
    let words: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(words, ["65534", "65534", "65534", "65534", "1"]);
}

#[test]
fn map_user_and_group_take_numbers_and_names() {
    let r = run_as_nobody(
        "unshare",
        &[
            "--map-user=1000",
            "--map-group=2000",
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map",
        ],
    );
    let words: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(
        words,
        ["1000", "2000", "1000", "65534", "1", "2000", "65534", "1"]
    );
    let r = run_as_nobody(
        "unshare",
        &["--map-user=root", "--map-group=root", "id", "-u"],
    );
    assert_eq!(r.assert_ok().stdout, "0\n");
    let r = run("unshare", &["--map-user=no-such-user-x", "true"]);
    r.assert_fails_with(1, "no-such-user-x");
}

#[test]
fn setgroups_allow_and_map_group_are_refused_together() {
    let r = run("unshare", &["-r", "--setgroups=allow", "true"]);
    r.assert_fails_with(1, "mutually exclusive");
    let r = run(
        "unshare",
        &["-U", "--setgroups=deny", "cat", "/proc/self/setgroups"],
    );
    assert_eq!(r.assert_ok().stdout, "deny\n");
    // Without a new user namespace there is no setgroups file of ours.
    let r = run("unshare", &["--setgroups=deny", "true"]);
    r.assert_fails_with(1, "--setgroups")
        .assert_fails_with(1, "-U");
}

#[test]
fn mount_proc_in_a_new_pid_namespace_sees_only_itself() {
    let before = host_state();
    let r = run(
        "unshare",
        &["-rmpf", "--mount-proc", "ps", "-e", "-o", "pid=,comm="],
    );
    let lines: Vec<String> = r
        .assert_ok()
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["1 ps"]);
    let r = run(
        "unshare",
        &[
            "-rmpf",
            "--mount-proc",
            "sh",
            "-c",
            "echo $$; readlink /proc/self/ns/pid",
        ],
    );
    let out = r.assert_ok().stdout.clone();
    let mut it = out.lines();
    assert_eq!(it.next(), Some("1"));
    assert_ne!(it.next().unwrap(), host_link("pid"));
    assert_eq!(host_state(), before, "host /proc or mounts changed");
    assert!(std::path::Path::new("/proc/1/status").exists());
}

#[test]
fn mount_proc_as_unprivileged_user_in_own_user_namespace() {
    let r = run_as_nobody(
        "unshare",
        &[
            "-rmpf",
            "--mount-proc",
            "sh",
            "-c",
            "echo $$; cat /proc/1/comm; test -e /proc/2/comm || echo alone",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "1\nsh\nalone\n");
}

#[test]
fn mount_proc_without_a_pid_namespace_explains_the_refusal() {
    let r = run_as_nobody("unshare", &["-rm", "--mount-proc", "true"]);
    r.assert_code(1);
    assert!(
        r.stderr
            .starts_with("unshare: mount /proc failed: Operation not permitted"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--pid --fork"), "{}", r.stderr);
}

#[test]
fn cgroup_namespace_shows_the_new_root() {
    let r = run("unshare", &["-Cm", "cat", "/proc/self/cgroup"]);
    let out = r.assert_ok().stdout.clone();
    assert!(!out.is_empty());
    for line in out.lines() {
        assert!(line.ends_with(":/"), "{line}");
    }
    let r = run("unshare", &["-C", "readlink", "/proc/self/ns/cgroup"]);
    assert_ne!(r.assert_ok().stdout.trim(), host_link("cgroup"));
}

#[test]
fn net_namespace_has_only_a_down_loopback() {
    let r = run(
        "unshare",
        &["-n", "sh", "-c", "ip -o link; readlink /proc/self/ns/net"],
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("1: lo:") && lines[0].contains("state DOWN"),
        "{out}"
    );
    assert_ne!(lines[1], host_link("net"));
}

#[test]
fn net_namespace_without_privilege_is_refused_with_a_hint() {
    let r = run_as_nobody("unshare", &["-n", "true"]);
    r.assert_code(1);
    assert!(
        r.stderr
            .starts_with("unshare: unshare failed: Operation not permitted"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("CAP_SYS_ADMIN"), "{}", r.stderr);
}

#[test]
fn hostname_changes_the_name_inside_only() {
    let before = host_state();
    let name = format!("box-{}", std::process::id());
    let r = run("unshare", &[&format!("--hostname={name}"), "hostname"]);
    assert_eq!(r.assert_ok().stdout.trim(), name);
    let r = run("unshare", &["-u", "sh", "-c", "hostname inner; hostname"]);
    assert_eq!(r.assert_ok().stdout.trim(), "inner");
    assert_eq!(host_state(), before);
    let r = run_as_nobody("unshare", &["-r", "--hostname=nobodybox", "hostname"]);
    assert_eq!(r.assert_ok().stdout.trim(), "nobodybox");
}

#[test]
fn ipc_namespace_hides_a_queue_made_outside_it() {
    // The queue is made in an IPC namespace of the test's own, never the host's.
    let r = run("unshare", &["-i", "sh", "-c", "id=$(ipcmk -Q | grep -o '[0-9]*$'); ipcs -q | grep -cw \"$id\"; unshare -i ipcs -q | grep -cw \"$id\"; true"]);
    assert_eq!(r.assert_ok().stdout, "1\n0\n", "{}", r.stderr);
}

/// Run a script in a private mount namespace with a scratch tmpfs at $D,
/// so bindings made there never reach the host.
fn in_private_mounts(script: &str) -> Run {
    let dir = scratch("persist");
    let full = format!(
        "set -e; D={}; mount -t tmpfs t \"$D\"; {script}",
        dir.display()
    );
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args(["-m", "--propagation=private", "bash", "-c", &full])
        .env("PATH", path_with_applets());
    run_command(cmd, TIMEOUT)
}

#[test]
fn net_file_persists_the_namespace_for_nsenter() {
    let r = in_private_mounts(
        "touch $D/net; unshare --net=$D/net ip link set lo up; \
         /usr/bin/nsenter --net=$D/net ip -o link show up | cut -d: -f2; \
         echo net:[$(stat -L -c %i $D/net)]; /usr/bin/nsenter --net=$D/net readlink /proc/self/ns/net; umount $D/net",
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "lo",
        "the change made in the first run must persist"
    );
    assert_eq!(lines[1], lines[2]);
}

#[test]
fn every_kind_can_be_persisted_to_a_file() {
    for (opt, kind) in [
        ("--uts", "uts"),
        ("--ipc", "ipc"),
        ("--user", "user"),
        ("--cgroup", "cgroup"),
        ("--time", "time"),
        ("--mount", "mnt"),
    ] {
        let r = in_private_mounts(&format!(
            "touch $D/f; unshare {opt}=$D/f sh -c 'readlink /proc/self/ns/{kind}_for_children 2>/dev/null || readlink /proc/self/ns/{kind}'; \
             echo {kind}:[$(stat -L -c %i $D/f)]; umount $D/f"
        ));
        let out = r.assert_ok().stdout.clone();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{opt}: {out}");
        assert_eq!(lines[0], lines[1], "{opt}");
    }
    let r = in_private_mounts(
        "touch $D/p; unshare -f --pid=$D/p readlink /proc/self/ns/pid; echo pid:[$(stat -L -c %i $D/p)]; umount $D/p",
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], lines[1]);
}

#[test]
fn mount_file_binding_is_not_flaky() {
    // Linux 6.18 may refuse the bind when the new namespace got a smaller id
    // (per-CPU id batches); unshare must retry, so 30 runs all succeed.
    let r = in_private_mounts(
        "touch $D/m; for i in $(seq 30); do unshare --mount=$D/m true; umount $D/m; done; echo done",
    );
    assert_eq!(r.assert_ok().stdout, "done\n", "{}", r.stderr);
}

#[test]
fn bad_persist_file_leaves_no_mount_and_no_namespace() {
    let r = in_private_mounts(
        "touch $D/ok; before=$(wc -l < /proc/self/mountinfo); \
         if unshare --net=$D/ok --uts=$D/missing true 2>$D/err; then echo unexpected; fi; cat $D/err; \
         if unshare --net=$D/ok --ipc=$D true 2>$D/err; then echo unexpected; fi; cat $D/err; \
         after=$(wc -l < /proc/self/mountinfo); echo mounts $before $after",
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("unshare: cannot bind to ")
            && lines[0].ends_with("/missing: No such file or directory"),
        "{out}"
    );
    assert!(lines[1].ends_with(": Is a directory"), "{out}");
    let counts: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(counts[1], counts[2], "a mount was left behind: {out}");
}

#[test]
fn mount_file_on_a_shared_mount_fails_cleanly() {
    let r = in_private_mounts(
        "mount --make-shared $D; touch $D/m $D/n; before=$(wc -l < /proc/self/mountinfo); \
         if unshare --mount=$D/m --net=$D/n true 2>$D/err; then echo unexpected; fi; \
         after=$(wc -l < /proc/self/mountinfo); echo mounts $before $after; cat $D/err",
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    let counts: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(counts[1], counts[2], "a mount was left behind: {out}");
    assert!(lines[1].starts_with("unshare: mount /proc/"), "{out}");
    assert!(
        lines[1].contains("shared"),
        "the message should name the shared mount: {out}"
    );
}

#[test]
fn time_namespace_offsets_show_in_uptime_and_timens_offsets() {
    let host_up = host_uptime();
    let r = run(
        "unshare",
        &[
            "-T",
            "--monotonic",
            "100",
            "--boottime",
            "100000",
            "sh",
            "-c",
            "cat /proc/uptime; cat /proc/self/timens_offsets",
        ],
    );
    let out = r.assert_ok().stdout.clone();
    let mut lines = out.lines();
    let inner: f64 = lines
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // /proc/uptime has two decimals: compare in hundredths, so that the float
    // sum cannot round the equal case (same hundredth) the wrong way.
    let (inner, host) = (
        (inner * 100.0).round() as i64,
        (host_up * 100.0).round() as i64,
    );
    assert!(
        inner >= host + 10_000_000 && inner < host + 10_010_000,
        "{inner} vs {host} (hundredths of a second)"
    );
    let offsets: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        offsets,
        [
            vec!["monotonic", "100", "0"],
            vec!["boottime", "100000", "0"]
        ]
    );
    let r = run_as_nobody(
        "unshare",
        &["-rT", "--boottime=-1.5", "cat", "/proc/self/timens_offsets"],
    );
    let words: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(
        words,
        ["monotonic", "0", "0", "boottime", "-2", "500000000"]
    );
}

#[test]
fn time_offsets_without_a_time_namespace_are_a_usage_error() {
    let r = run("unshare", &["--monotonic", "5", "true"]);
    r.assert_fails_with(1, "-T")
        .assert_fails_with(1, "Try 'unshare --help'");
    run("unshare", &["-T", "--monotonic", "5x", "true"]).assert_code(1);
}

#[test]
fn exit_status_of_the_child_is_passed_on() {
    run("unshare", &["-f", "sh", "-c", "exit 7"]).assert_code(7);
    run("unshare", &["sh", "-c", "exit 9"]).assert_code(9);
    run("unshare", &["-rf", "false"]).assert_code(1);
}

#[test]
fn unshare_child_killed_by_signal_kills_unshare() {
    let r = run("unshare", &["-f", "sh", "-c", "kill -9 $$"]);
    assert_eq!(r.signal(), Some(9), "{:?} {}", r.status, r.stderr);
    let r = run("unshare", &["-rpf", "sh", "-c", "kill -TERM $$; sleep 5"]);
    // PID 1 of a new namespace ignores signals it has no handler for; a
    // shell that is not PID 1 dies of TERM.
    assert!(
        r.signal().is_none() || r.signal() == Some(15),
        "{:?}",
        r.status
    );
    let r = run("unshare", &["-f", "sh", "-c", "kill -USR1 $$"]);
    assert_eq!(r.signal(), Some(10));
    let r = sh("unshare -f sh -c 'kill -9 $$'; echo $?");
    assert_eq!(r.stdout, "137\n");
}

#[test]
fn missing_or_unexecutable_programs_give_127_and_126() {
    let r = run("unshare", &["-r", "no-such-program-nstools"]);
    r.assert_code(127);
    assert_eq!(
        r.stderr,
        "unshare: failed to execute no-such-program-nstools: No such file or directory\n"
    );
    let file = scratch("noexec").join("data");
    std::fs::write(&file, "data\n").unwrap();
    set_mode(&file, 0o644);
    let r = run("unshare", &["-r", file.to_str().unwrap()]);
    r.assert_code(126);
    assert_eq!(
        r.stderr,
        format!(
            "unshare: failed to execute {}: Permission denied\n",
            file.display()
        )
    );
    run("unshare", &["-rf", "no-such-program-nstools"]).assert_code(127);
}

#[test]
fn unknown_option_is_a_usage_error_with_a_hint() {
    let r = run("unshare", &["--bogus", "true"]);
    r.assert_code(1);
    assert_eq!(
        r.stderr,
        "unshare: unrecognized option '--bogus'\nTry 'unshare --help' for more information.\n"
    );
    let r = run("unshare", &["--propagation=sideways", "true"]);
    r.assert_fails_with(1, "sideways");
    let r = run("unshare", &["--kill-child=NOPE", "true"]);
    r.assert_fails_with(1, "NOPE");
}

#[test]
fn options_after_the_program_belong_to_the_program() {
    let r = run(
        "unshare",
        &[
            "-r",
            "sh",
            "-c",
            "printf '%s\\n' \"$*\"",
            "x",
            "-n",
            "--bogus",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "-n --bogus\n");
    let r = run("unshare", &["-r", "--", "echo", "-x"]);
    assert_eq!(r.assert_ok().stdout, "-x\n");
}

#[test]
fn propagation_defaults_to_private_and_can_be_chosen() {
    let r = in_private_mounts(
        "mount --make-shared $D; unshare -m findmnt -no PROPAGATION $D; \
         unshare -m --propagation=slave findmnt -no PROPAGATION $D; \
         unshare -m --propagation=unchanged findmnt -no PROPAGATION $D; \
         unshare -m --propagation shared findmnt -no PROPAGATION /",
    );
    let lines: Vec<String> = r
        .assert_ok()
        .stdout
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(lines, ["private", "private,slave", "shared", "shared"]);
}

#[test]
fn a_mount_inside_does_not_leak_to_the_host() {
    let dir = scratch("leak");
    let before = host_state();
    let r = run(
        "unshare",
        &[
            "-m",
            "sh",
            "-c",
            &format!(
                "mount -t tmpfs leak {0} && touch {0}/inside && ls {0}",
                dir.display()
            ),
        ],
    );
    assert_eq!(r.assert_ok().stdout, "inside\n");
    assert!(!dir.join("inside").exists());
    assert_eq!(host_state(), before);
}

#[test]
fn root_and_wd_change_where_the_program_runs() {
    let r = run("unshare", &["-R", "/", "-w", "/usr", "pwd"]);
    assert_eq!(r.assert_ok().stdout, "/usr\n");
    let r = run("unshare", &["-R", "/usr", "pwd"]);
    assert_eq!(r.assert_ok().stdout, "/\n");
    let r = run("unshare", &["-w", "/no/such/dir", "true"]);
    r.assert_code(1);
    assert_eq!(
        r.stderr,
        "unshare: cannot chdir to '/no/such/dir': No such file or directory\n"
    );
    let r = run("unshare", &["-R", "/no/such/root", "true"]);
    r.assert_code(1);
    assert!(
        r.stderr
            .starts_with("unshare: cannot change root directory to '/no/such/root'"),
        "{}",
        r.stderr
    );
}

#[test]
fn setuid_and_setgid_switch_ids() {
    let r = run(
        "unshare",
        &[
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
    let r = run_as_nobody("unshare", &["-r", "-S", "0", "-G", "0", "id", "-u"]);
    assert_eq!(r.assert_ok().stdout, "0\n");
    run("unshare", &["-S", "x", "true"]).assert_code(1);
}

fn cap_amb(status: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with("CapAmb:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn keep_caps_keeps_namespace_capabilities_across_exec() {
    let with = run_as_nobody(
        "unshare",
        &["-U", "--keep-caps", "cat", "/proc/self/status"],
    );
    assert_ne!(cap_amb(&with.assert_ok().stdout), 0);
    let without = run_as_nobody("unshare", &["-U", "cat", "/proc/self/status"]);
    assert_eq!(cap_amb(&without.assert_ok().stdout), 0);
}

#[test]
fn owner_gives_the_user_namespace_to_another_user() {
    let mut target = Command::new(applet("unshare"))
        .args(["--owner=65534:65534", "-r", "sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    wait_until("the target to enter its user namespace", || {
        std::fs::read_link(format!("/proc/{pid}/ns/user"))
            .map(|l| l.to_string_lossy() != host_link("user"))
            .unwrap_or(false)
            && std::fs::read_to_string(format!("/proc/{pid}/uid_map"))
                .map(|m| !m.is_empty())
                .unwrap_or(false)
    });
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), ["0", "0", "1"]);
    // The owner, unprivileged, may enter it; nobody could enter a root-owned one.
    let r = sh_as_nobody(&format!(
        "/usr/bin/nsenter -t {pid} -U --preserve-credentials readlink /proc/self/ns/user"
    ));
    assert_eq!(r.assert_ok().stdout.trim(), ns_link(&pid, "user"));
    let _ = target.kill();
    let _ = target.wait();
}

#[test]
fn mount_binfmt_and_load_interp_register_in_the_new_user_namespace() {
    let r = run(
        "unshare",
        &["-r", "--mount-binfmt", "ls", "/proc/sys/fs/binfmt_misc"],
    );
    assert!(r.assert_ok().stdout.contains("register"), "{}", r.stdout);
    let r = run(
        "unshare",
        &[
            "-r",
            "-l",
            ":nstest:E::nstst::/bin/cat:",
            "cat",
            "/proc/sys/fs/binfmt_misc/nstest",
        ],
    );
    let out = r.assert_ok().stdout.clone();
    assert!(
        out.starts_with("enabled") && out.contains("interpreter /bin/cat"),
        "{out}"
    );
    let r = run("unshare", &["-r", "-l", "not-a-spec", "true"]);
    r.assert_code(1);
}

#[test]
fn clear_env_and_whitelist_env_choose_what_is_passed_on() {
    let mut cmd = Command::new(applet("unshare"));
    cmd.args(["--clear-env", "/usr/bin/env"])
        .env("NSTOOLS_X", "1");
    let r = run_command(cmd, TIMEOUT);
    assert_eq!(r.assert_ok().stdout, "");
    let mut cmd = Command::new(applet("unshare"));
    cmd.args(["--whitelist-env=NSTOOLS_X,HOME", "/usr/bin/env"])
        .env_clear()
        .env("NSTOOLS_X", "1")
        .env("NSTOOLS_Y", "2")
        .env("HOME", "/root");
    let r = run_command(cmd, TIMEOUT);
    let mut vars: Vec<&str> = r.assert_ok().stdout.lines().collect();
    vars.sort();
    assert_eq!(vars, ["HOME=/root", "NSTOOLS_X=1"]);
}

#[test]
fn without_a_program_the_shell_runs_as_a_login_shell() {
    let dir = scratch("shell");
    let script = dir.join("myshell");
    std::fs::write(&script, "#!/bin/sh\necho \"$0 $#\"\n").unwrap();
    set_mode(&script, 0o755);
    // A script's $0 is its path (the kernel replaces argv[0]), so read $0 from a real shell.
    let r = sh("echo 'echo $0' | SHELL=/bin/bash unshare -r");
    assert_eq!(r.assert_ok().stdout, "-bash\n");
    let mut cmd = Command::new(applet("unshare"));
    cmd.arg("-r").env("SHELL", &script);
    let r = run_command(cmd, TIMEOUT);
    assert!(
        r.assert_ok().stdout.ends_with("myshell 0\n"),
        "{}",
        r.stdout
    );
    let mut cmd = Command::new(applet("unshare"));
    cmd.arg("-r").env_remove("SHELL").stdin(Stdio::null());
    let r = run_command(cmd, TIMEOUT);
    r.assert_ok();
}

/// The PID of unshare `upid`'s child once its `/proc/PID/FILE` satisfies
/// `ready` (bounded wait).
fn child_once(upid: u32, file: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut child_pid = String::new();
    wait_until("unshare to fork its child", || {
        child_pid = std::fs::read_to_string(format!("/proc/{upid}/task/{upid}/children"))
            .unwrap_or_default()
            .trim()
            .to_string();
        !child_pid.is_empty()
            && std::fs::read_to_string(format!("/proc/{child_pid}/{file}"))
                .is_ok_and(|text| ready(&text))
    });
    child_pid
}

#[test]
fn kill_child_signals_the_child_when_unshare_dies() {
    let mut un = Command::new(applet("unshare"))
        .args(["--kill-child=TERM", "-r", "sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let upid = un.id();
    let child_pid = child_once(upid, "cmdline", |c| c.starts_with("sleep"));
    un.kill().unwrap();
    un.wait().unwrap();
    wait_until("the child to die", || {
        std::fs::read_to_string(format!("/proc/{child_pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    });
}

fn spawn_fork(args: &[&str]) -> (std::process::Child, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(applet("unshare"));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
    // The test must not depend on how it was started: a runner under nohup
    // ignores HUP (and a shell cannot trap a signal ignored on entry), and a
    // runner in an orphaned process group has TSTP discarded by the kernel.
    // So the signals start at their defaults, in a process group of our own
    // whose parent (this test) is in the same session: not orphaned.
    cmd.process_group(0);
    // SAFETY: between fork and exec we only call signal(2), which is
    // async-signal-safe, and touch no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTERM,
                libc::SIGUSR1,
                libc::SIGUSR2,
                libc::SIGTSTP,
                libc::SIGWINCH,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let mut un = cmd.spawn().unwrap();
    let upid = un.id();
    // The script says `ready` once its traps are set: a signal sent before
    // that would meet the shell's default action instead, on a loaded machine.
    let stdout = un.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line == "ready\n" => {}
        other => {
            let _ = un.kill();
            panic!("the child did not get ready: {other:?}");
        }
    }
    let child = std::fs::read_to_string(format!("/proc/{upid}/task/{upid}/children"))
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(!child.is_empty(), "unshare has no child");
    (un, child)
}

/// Wait (bounded) for unshare to end; kill it and fail if it does not.
fn wait_bounded(un: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = un.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = un.kill();
            panic!("unshare did not end within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn forward_signals_passes_each_signal_to_the_child() {
    for (sig, code) in [
        ("USR1", 41),
        ("TERM", 42),
        ("HUP", 43),
        ("INT", 44),
        ("USR2", 45),
        ("QUIT", 46),
    ] {
        let script = format!("trap 'exit {code}' {sig}; echo ready; while :; do sleep 0.05; done");
        let (mut un, _child) = spawn_fork(&["--forward-signals", "sh", "-c", &script]);
        Command::new("kill")
            .args([&format!("-{sig}"), &un.id().to_string()])
            .status()
            .unwrap();
        let status = wait_bounded(&mut un);
        assert_eq!(status.code(), Some(code), "{sig}: {status:?}");
    }
}

#[test]
fn without_forward_signals_term_and_int_are_ignored_while_waiting() {
    let (mut un, child) = spawn_fork(&[
        "-f",
        "sh",
        "-c",
        "trap 'exit 3' USR1; echo ready; while :; do sleep 0.05; done",
    ]);
    Command::new("kill")
        .args(["-TERM", &un.id().to_string()])
        .status()
        .unwrap();
    Command::new("kill")
        .args(["-INT", &un.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        un.try_wait().unwrap().is_none(),
        "unshare died of a signal it should ignore"
    );
    Command::new("kill")
        .args(["-USR1", &child])
        .status()
        .unwrap();
    assert_eq!(wait_bounded(&mut un).code(), Some(3));
}

#[test]
fn forward_signals_passes_stop_and_continue_through() {
    let (mut un, child) = spawn_fork(&[
        "--forward-signals",
        "sh",
        "-c",
        "trap 'exit 5' USR1; echo ready; while :; do sleep 0.05; done",
    ]);
    let state = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .split(") ")
            .nth(1)
            .unwrap()
            .chars()
            .next()
            .unwrap()
    };
    Command::new("kill")
        .args(["-TSTP", &un.id().to_string()])
        .status()
        .unwrap();
    let upid = un.id().to_string();
    wait_until("both to stop", || {
        state(&child) == 'T' && state(&upid) == 'T'
    });
    Command::new("kill")
        .args(["-CONT", &upid])
        .status()
        .unwrap();
    wait_until("both to continue", || {
        state(&child) != 'T' && state(&upid) != 'T'
    });
    Command::new("kill")
        .args(["-USR1", &upid])
        .status()
        .unwrap();
    let status = wait_bounded(&mut un);
    assert_eq!(status.code(), Some(5), "{status:?} {:?}", status.signal());
}

#[test]
fn user_namespaces_uts_ipc_net_mount_together() {
    let r = run(
        "unshare",
        &[
            "-Uuinm",
            "sh",
            "-c",
            "for k in user uts ipc net mnt; do readlink /proc/self/ns/$k; done",
        ],
    );
    let out = r.assert_ok().stdout.clone();
    for (line, kind) in out.lines().zip(["user", "uts", "ipc", "net", "mnt"]) {
        assert_ne!(line, host_link(kind), "{kind} was not unshared");
    }
}

#[test]
fn disabled_user_namespaces_are_named_in_the_error() {
    // The limit is per user namespace: set it to 0 in one of the test's own.
    let r = run(
        "unshare",
        &[
            "-r",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_user_namespaces; unshare -r true",
        ],
    );
    r.assert_fails_with(1, "user.max_user_namespaces is 0");
}

#[test]
fn mount_proc_under_a_masked_proc_explains_the_refusal() {
    let r = run(
        "unshare",
        &[
            "-rmpf",
            "--mount-proc",
            "sh",
            "-c",
            "mount -t tmpfs mask /proc/sys && unshare -rmpf --mount-proc true",
        ],
    );
    r.assert_fails_with(1, "partly hidden by other mounts");
}

#[test]
fn no_descriptor_of_ours_leaks_into_the_program() {
    let r = in_private_mounts(
        "touch $D/m $D/p; ls /proc/self/fd | sort | tr '\\n' ' '; echo; \
         unshare -f --mount=$D/m --pid=$D/p --owner=0:0 -r ls /proc/self/fd | sort | tr '\\n' ' '; umount $D/m $D/p",
    );
    // The same descriptors as the shell passes to a plain ls: nothing of ours.
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], lines[1], "{out}");
}

#[test]
fn the_program_inherits_our_callers_sigpipe_disposition() {
    // The harness starts unshare with SIGPIPE at its default: the program
    // must get it so, or `unshare yes | head -1` ends in an EPIPE complaint.
    for args in [
        &["grep", "SigIgn", "/proc/self/status"][..],
        &["-f", "grep", "SigIgn", "/proc/self/status"],
    ] {
        let r = run("unshare", args);
        let mask = u64::from_str_radix(r.assert_ok().stdout.split_whitespace().nth(1).unwrap(), 16)
            .unwrap();
        assert_eq!(
            mask & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE ignored in the program: {mask:x}"
        );
    }
    let r = sh("unshare -f yes | head -n1 >/dev/null; echo \"${PIPESTATUS[0]}\"");
    assert_eq!(r.assert_ok().stdout.trim(), "141", "{}", r.stderr);
}

/// Run util-linux's unshare (the reference), named `unshare` as ours is.
fn reference(as_nobody: bool, args: &[&str]) -> Run {
    use std::os::unix::process::CommandExt;
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg("/usr/bin/unshare");
        c
    } else {
        let mut c = Command::new("/usr/bin/unshare");
        c.arg0("unshare");
        c
    };
    cmd.args(args).current_dir("/");
    run_command(cmd, TIMEOUT)
}

/// What a case's outcome must agree on: exit status and the words printed.
fn outcome(r: &Run) -> (Option<i32>, Option<i32>, Vec<String>) {
    let words = r.stdout.split_whitespace().map(String::from).collect();
    (r.code(), r.signal(), words)
}

#[test]
fn behaves_as_util_linux_on_shared_cases() {
    if !std::path::Path::new("/usr/bin/unshare").exists() {
        panic!("util-linux's unshare is needed as the reference (apt-get install util-linux)");
    }
    // Cases where util-linux 2.38 is right (not: SIGKILL of the child, -S/-G
    // after -r, --setgroups=deny with -r: see DESIGN.md and the tests above).
    let cases: &[&[&str]] = &[
        &["-r", "id", "-u"],
        &["-r", "cat", "/proc/self/uid_map", "/proc/self/gid_map"],
        &["-r", "cat", "/proc/self/setgroups"],
        &["-U", "cat", "/proc/self/setgroups"],
        &["-U", "--setgroups=deny", "cat", "/proc/self/setgroups"],
        &["-c", "id"],
        &["--map-user=1000", "--map-group=1000", "id"],
        &["--map-user=root", "cat", "/proc/self/uid_map"],
        &["--map-group=nogroup", "id", "-g"],
        &["--map-user=no-such-user-x", "true"],
        &["-r", "--setgroups=allow", "--map-group=0", "true"],
        &["-f", "sh", "-c", "exit 7"],
        &["sh", "-c", "exit 9"],
        &["-f", "sh", "-c", "kill -TERM $$"],
        &["-pf", "sh", "-c", "echo $$"],
        &[
            "-rmpf",
            "--mount-proc",
            "readlink",
            "/proc/self",
            "/proc/1/exe",
        ],
        &["-m", "findmnt", "-no", "PROPAGATION", "/"],
        &[
            "-m",
            "--propagation=shared",
            "findmnt",
            "-no",
            "PROPAGATION",
            "/",
        ],
        &[
            "-m",
            "--propagation=slave",
            "findmnt",
            "-no",
            "PROPAGATION",
            "/",
        ],
        &["-m", "--propagation=unchanged", "true"],
        &[
            "-r",
            "grep",
            "-c",
            "CapAmb:.0000000000000000",
            "/proc/self/status",
        ],
        &[
            "-r",
            "--keep-caps",
            "grep",
            "-c",
            "CapAmb:.0000000000000000",
            "/proc/self/status",
        ],
        &[
            "-T",
            "--monotonic=5",
            "--boottime",
            "-7",
            "cat",
            "/proc/self/timens_offsets",
        ],
        &["--monotonic", "5", "true"],
        &["-T", "--monotonic", "5x", "true"],
        &["-r", "-w", "/tmp", "pwd"],
        &["-r", "-R", "/", "-w", "/etc", "pwd"],
        &["-r", "-w", "/no-such-dir", "true"],
        &["-f", "/no-such-program"],
        &["/etc/passwd"],
        &["--net=/no-such-file", "true"],
        &["-u", "--kill-child", "true"],
        &["--kill-child=NOPE", "true"],
        &["--propagation=sideways", "true"],
        &["--setgroups=maybe", "-U", "true"],
        &["-Cm", "cat", "/proc/self/cgroup"],
    ];
    let mut differ = Vec::new();
    for args in cases {
        let ours = outcome(&run("unshare", args));
        let theirs = outcome(&reference(false, args));
        if ours != theirs {
            differ.push(format!(
                "root {args:?}: ours {ours:?}, util-linux {theirs:?}"
            ));
        }
    }
    let as_nobody: &[&[&str]] = &[
        &["-r", "id", "-u"],
        &["-r", "cat", "/proc/self/uid_map", "/proc/self/setgroups"],
        &["-n", "true"],
        &["-rn", "ip", "-o", "link"],
        &["--map-user=0", "--map-group=0", "id", "-u", "-g"],
        &["-rmpf", "--mount-proc", "ps", "-o", "pid=", "-e"],
        &["-rC", "cat", "/proc/self/cgroup"],
        &["-C", "true"],
        &["-ri", "ipcs", "-q"],
        &["-rT", "--monotonic=3", "cat", "/proc/self/timens_offsets"],
        &["-T", "true"],
        &["-ru", "hostname"],
        &["-rm", "findmnt", "-no", "PROPAGATION", "/"],
    ];
    for args in as_nobody {
        let ours = outcome(&run_as_nobody("unshare", args));
        let theirs = outcome(&reference(true, args));
        if ours != theirs {
            differ.push(format!(
                "nobody {args:?}: ours {ours:?}, util-linux {theirs:?}"
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn usage_errors_are_worded_as_util_linux_words_them() {
    for (args, expected) in [
        (&["-x", "true"][..], "unshare: invalid option -- 'x'\n"),
        (
            &["--bogus", "true"],
            "unshare: unrecognized option '--bogus'\n",
        ),
        (&["-S"], "unshare: option requires an argument -- 'S'\n"),
        (&["-rw"], "unshare: option requires an argument -- 'w'\n"),
        (&["--wd"], "unshare: option '--wd' requires an argument\n"),
    ] {
        let ours = run("unshare", args);
        let theirs = reference(false, args);
        ours.assert_code(1);
        theirs.assert_code(1);
        let hint = "Try 'unshare --help' for more information.\n";
        assert_eq!(ours.stderr, format!("{expected}{hint}"));
        assert_eq!(theirs.stderr, ours.stderr);
    }
}

#[test]
fn mount_proc_at_a_custom_dir_mounts_a_new_proc_there() {
    let dir = scratch("procdir");
    let p = dir.display().to_string();
    let script = format!("readlink {p}/self/ns/pid; echo $$; cat {p}/1/comm");
    for r in [
        run(
            "unshare",
            &["-mpf", &format!("--mount-proc={p}"), "sh", "-c", &script],
        ),
        run_as_nobody(
            "unshare",
            &["-rmpf", &format!("--mount-proc={p}"), "sh", "-c", &script],
        ),
    ] {
        let out = r.assert_ok().stdout.clone();
        let lines: Vec<&str> = out.lines().collect();
        // The new proc shows the new PID namespace, whose first process is
        // the shell.
        assert_eq!(lines.len(), 3, "{out}");
        assert_ne!(lines[0], host_link("pid"), "{out}");
        assert_eq!(lines[1..], ["1", "sh"], "{out}");
    }
    // Nothing is left mounted on the directory.
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(p.as_str()));
    assert!(!mounted, "{p} is still a mount point");
}

#[test]
fn kill_child_without_a_name_sends_sigkill() {
    // The child ignores TERM, so only the default KILL can end it.
    let mut un = Command::new(applet("unshare"))
        .args([
            "--kill-child",
            "-r",
            "sh",
            "-c",
            "trap '' TERM; while :; do sleep 1; done",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let upid = un.id();
    let child_pid = child_once(upid, "status", |s| {
        s.lines()
            .any(|l| l.starts_with("SigIgn:") && !l.ends_with("0000000000000000"))
    });
    un.kill().unwrap();
    un.wait().unwrap();
    wait_until("the child to die", || {
        std::fs::read_to_string(format!("/proc/{child_pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    });
}

#[test]
fn persisting_without_privilege_outside_fails_cleanly() {
    // nobody owns the new user namespace but may not mount on the host side.
    let r = in_private_mounts(
        "touch $D/n; chmod 666 $D/n; before=$(wc -l < /proc/self/mountinfo); \
         rc=0; setpriv --reuid=65534 --regid=65534 --clear-groups -- \
           unshare -r --net=$D/n true 2>$D/err || rc=$?; \
         after=$(wc -l < /proc/self/mountinfo); echo rc=$rc mounts $before $after; cat $D/err",
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    let words: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(words[0], "rc=1", "{out}");
    assert_eq!(words[2], words[3], "a mount was left behind: {out}");
    assert!(
        lines[1].starts_with("unshare: ")
            && lines[1].contains("Operation not permitted")
            && lines[1].contains("CAP_SYS_ADMIN"),
        "{out}"
    );
}

#[test]
fn hostname_as_unprivileged_user_in_own_user_namespace() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let r = run_as_nobody("unshare", &["-r", "--hostname=nobody-box", "hostname"]);
    assert_eq!(r.assert_ok().stdout, "nobody-box\n");
    // Without a user namespace, nobody may not make a UTS namespace at all.
    let r = run_as_nobody("unshare", &["--hostname=nobody-box", "hostname"]);
    r.assert_code(1);
    assert!(r.stderr.starts_with("unshare: "), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn map_user_names_outside_etc_passwd_come_from_the_other_nss_services() {
    // Hide nobody from /etc/passwd (in a mount namespace of the test's own):
    // a service such as systemd's may still know the name, and what getent
    // finds is what unshare must map (or, if nothing does, refuse).
    let r = in_private_mounts(
        "grep -v '^nobody:' /etc/passwd > $D/passwd; mount --bind $D/passwd /etc/passwd; \
         echo \"getent=$(getent passwd nobody | cut -d: -f3)\"; \
         rc=0; unshare --map-user=nobody cat /proc/self/uid_map 2>$D/err || rc=$?; \
         echo rc=$rc; cat $D/err",
    );
    let out = r.assert_ok().stdout.clone();
    let mut lines = out.lines();
    let getent = lines
        .next()
        .unwrap()
        .trim_start_matches("getent=")
        .to_string();
    let rest: Vec<&str> = lines.collect();
    if getent.is_empty() {
        assert_eq!(rest[0], "rc=1", "{out}");
        assert!(rest[1].contains("failed to parse uid: 'nobody'"), "{out}");
    } else {
        let words: Vec<&str> = rest[0].split_whitespace().collect();
        assert_eq!(words, [getent.as_str(), "0", "1"], "{out}");
        assert_eq!(rest[1], "rc=0", "{out}");
    }
}

#[test]
fn setgid_without_a_gid_map_says_to_map_a_group() {
    let r = run_as_nobody("unshare", &["-U", "--setgroups=allow", "-G", "0", "true"]);
    r.assert_code(1);
    assert!(
        r.stderr
            .starts_with("unshare: setgroups failed: Operation not permitted")
            && r.stderr.contains("--map-group"),
        "{}",
        r.stderr
    );
    // With the map it works, and the groups are dropped.
    let r = run_as_nobody("unshare", &["-r", "-G", "0", "id", "-G"]);
    assert_eq!(r.assert_ok().stdout, "0\n");
}

#[test]
fn a_failure_after_binding_undoes_the_bindings() {
    // Each case binds a namespace to a file and then fails in a step of
    // unshare's own: nothing may stay mounted. The last case succeeds and
    // keeps its binding (so the count can move at all).
    let r = in_private_mounts(
        "touch $D/n $D/p; mkdir $D/root; count() { grep -c \" $D/\" /proc/self/mountinfo || true; }; \
         for args in '--net=$D/n -w /no-such-dir true' \
                     '-f --net=$D/n -w /no-such-dir true' \
                     '-m --net=$D/n -w /no-such-dir true' \
                     '-mf --net=$D/n -w /no-such-dir true' \
                     '--net=$D/n -R $D/root -w /no-such-dir true' \
                     '-f --uts=$D/n --hostname=0123456789012345678901234567890123456789012345678901234567890123456789 true' \
                     '-rf --net=$D/n --pid=$D/p no-such-program-nstools' \
                     '--net=$D/n no-such-program-nstools' \
                     '-m --net=$D/n $D/n' \
                     '-f --net=$D/n true'; do \
           rc=0; eval unshare $args 2>/dev/null || rc=$?; echo \"$rc $(count)\"; \
         done",
    );
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["1 0", "1 0", "1 0", "1 0", "1 0", "1 0", "127 0", "127 0", "126 0", "0 1"],
        "(exit status, mounts on files in the scratch tmpfs): {out}"
    );
}

#[test]
fn unprivileged_user_persists_namespaces_inside_its_own_user_namespace() {
    // nobody owns a user and mount namespace, mounts a tmpfs there and keeps
    // a network and a mount namespace in files on it; nsenter finds them.
    let dir = scratch("nobody-persist");
    let d = dir.display();
    let r = sh_as_nobody(&format!(
        "unshare -rm sh -c 'mount -t tmpfs t {d}; touch {d}/n {d}/m; \
         unshare --net={d}/n --mount={d}/m readlink /proc/self/ns/net /proc/self/ns/mnt; \
         nsenter --net={d}/n readlink /proc/self/ns/net; \
         nsenter --mount={d}/m readlink /proc/self/ns/mnt; \
         umount {d}/n {d}/m; grep -c \" {d}/\" /proc/self/mountinfo || true'"
    ));
    let out = r.assert_ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}\n{}", r.stderr);
    assert!(
        lines[0].starts_with("net:[") && lines[1].starts_with("mnt:["),
        "{out}"
    );
    assert_eq!(
        lines[2], lines[0],
        "nsenter entered another network namespace"
    );
    assert_eq!(
        lines[3], lines[1],
        "nsenter entered another mount namespace"
    );
    assert_ne!(lines[0], host_link("net"));
    assert_eq!(lines[4], "0", "{out}");
}

// `unshare -f` spawns its child (clone with CLONE_VM | CLONE_VFORK, as
// posix_spawn does) when the child's work is only the death signal, the
// propagation of /, proc and exec; with any other child step it forks. The
// cases below run both ways: as given (spawned), and with `--wd=.`, a
// change of directory to where the program already is, which only the
// forked child makes.

/// `unshare ARGS`, spawned and forked, with `env` set: the same status,
/// output and messages both ways. Returns the spawned run.
fn spawned_and_forked(env: &[(&str, &str)], args: &[&str]) -> Run {
    spawned_and_forked_in(None, env, args)
}

/// `spawned_and_forked`, started in the directory `dir`.
fn spawned_and_forked_in(
    dir: Option<&std::path::Path>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let with = |extra: Option<&str>| {
        let mut cmd = Command::new(applet("unshare"));
        cmd.args(extra).args(args).env("PATH", path_with_applets());
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_command(cmd, TIMEOUT)
    };
    let spawned = with(None);
    let forked = with(Some("--wd=."));
    spawned.assert_same_as(
        &forked,
        &format!("unshare {args:?}: spawned (left) and forked (right)"),
    );
    spawned
}

#[test]
fn spawned_child_is_a_clone_sharing_memory_and_a_forked_one_is_not() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: no strace");
        return;
    }
    let trace = |extra: &[&str]| {
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-e", "trace=clone,clone3,fork,vfork", "--"])
            .arg(applet("unshare"))
            .args(extra)
            .args(["-rmpf", "--mount-proc", "--kill-child", "true"]);
        let r = run_command(cmd, TIMEOUT);
        r.assert_ok();
        r.stderr
    };
    let spawned = trace(&[]);
    assert!(
        spawned.contains("CLONE_VM|CLONE_VFORK"),
        "not spawned: {spawned}"
    );
    let forked = trace(&["--wd=."]);
    assert!(!forked.contains("CLONE_VM"), "not forked: {forked}");
}

#[test]
fn spawned_and_forked_children_pass_exit_statuses_and_deaths_on() {
    spawned_and_forked(&[], &["-rf", "sh", "-c", "exit 7"]).assert_code(7);
    spawned_and_forked(&[], &["-rf", "true"]).assert_code(0);
    let r = spawned_and_forked(&[], &["-rf", "sh", "-c", "kill -USR1 $$"]);
    assert_eq!(r.signal(), Some(libc::SIGUSR1), "{:?}", r.status);
    let r = spawned_and_forked(&[], &["-rf", "--forward-signals", "sh", "-c", "kill -9 $$"]);
    assert_eq!(r.signal(), Some(libc::SIGKILL), "{:?}", r.status);
    // The program runs with our caller's signal mask and dispositions, not
    // the all-blocked mask we hold around the clone.
    let r = spawned_and_forked(
        &[],
        &["-rf", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
    );
    assert!(
        r.assert_ok()
            .stdout
            .starts_with("SigBlk:\t0000000000000000\n"),
        "{}",
        r.stdout
    );
    // In a new PID namespace, with proc mounted there and the death signal.
    let r = spawned_and_forked(
        &[],
        &[
            "-rmpf",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            "echo $$ /proc/[0-9]*",
        ],
    );
    assert_eq!(r.assert_ok().stdout, "1 /proc/1\n");
}

#[test]
fn spawned_and_forked_children_report_a_missing_or_unexecutable_program_alike() {
    let r = spawned_and_forked(&[], &["-rf", "no-such-program-nstools"]);
    r.assert_code(127);
    assert_eq!(
        r.stderr,
        "unshare: failed to execute no-such-program-nstools: No such file or directory\n"
    );
    spawned_and_forked(&[], &["-rf", "/no/such/dir/prog"]).assert_code(127);
    let dir = scratch("spawn-exec");
    let data = dir.join("data");
    std::fs::write(&data, "data\n").unwrap();
    set_mode(&data, 0o644);
    let r = spawned_and_forked(&[], &["-rf", data.to_str().unwrap()]);
    r.assert_code(126);
    assert_eq!(
        r.stderr,
        format!(
            "unshare: failed to execute {}: Permission denied\n",
            data.display()
        )
    );
    // A directory is not executable either.
    spawned_and_forked(&[], &["-rf", dir.to_str().unwrap()]).assert_code(126);
    // On a PATH search a file without execute permission is skipped, but
    // counts as EACCES if nothing else is found.
    let (first, second) = (dir.join("first"), dir.join("second"));
    for (d, body, mode) in [
        (&first, "#!/bin/sh\necho first\n", 0o644),
        (&second, "#!/bin/sh\necho second\n", 0o755),
    ] {
        std::fs::create_dir_all(d).unwrap();
        let prog = d.join("prog-nstools");
        std::fs::write(&prog, body).unwrap();
        set_mode(&prog, mode);
    }
    let path = format!("{}:{}", first.display(), second.display());
    let r = spawned_and_forked(&[("PATH", &path)], &["-rf", "prog-nstools"]);
    assert_eq!(r.assert_ok().stdout, "second\n");
    let only_first = first.display().to_string();
    let r = spawned_and_forked(&[("PATH", &only_first)], &["-rf", "prog-nstools"]);
    r.assert_code(126);
    assert_eq!(
        r.stderr,
        "unshare: failed to execute prog-nstools: Permission denied\n"
    );
    // An executable file without `#!` runs as a shell script, as execvp does.
    let script = dir.join("no-shebang");
    std::fs::write(&script, "echo \"script $# $1\"\n").unwrap();
    set_mode(&script, 0o755);
    let r = spawned_and_forked(&[], &["-rf", script.to_str().unwrap(), "arg"]);
    assert_eq!(r.assert_ok().stdout, "script 1 arg\n");
    // An empty PATH element is the current directory.
    let r = spawned_and_forked_in(
        Some(&second),
        &[("PATH", ":/nonexistent")],
        &["-rf", "prog-nstools"],
    );
    assert_eq!(r.assert_ok().stdout, "second\n");
}

#[test]
fn spawned_child_searches_the_default_path_when_path_is_unset() {
    let run_without_path = |extra: &[&str]| {
        let mut cmd = Command::new(applet("unshare"));
        cmd.args(extra).args(["-rf", "true"]).env_remove("PATH");
        run_command(cmd, TIMEOUT)
    };
    run_without_path(&[]).assert_ok();
    run_without_path(&["--wd=."]).assert_ok();
}

#[test]
fn spawned_and_forked_children_run_the_login_shell_alike() {
    let r = spawned_and_forked(&[("SHELL", "/no/such/shell")], &["-rf"]);
    r.assert_code(127);
    assert_eq!(
        r.stderr,
        "unshare: failed to execute /no/such/shell: No such file or directory\n"
    );
    let r = sh("echo 'echo $0' | SHELL=/bin/bash unshare -rf; echo 'echo $0' | SHELL=/bin/bash unshare -rf --wd=.");
    assert_eq!(r.assert_ok().stdout, "-bash\n-bash\n");
}

#[test]
fn spawned_and_forked_children_report_a_failed_proc_mount_alike() {
    let r = spawned_and_forked(&[], &["-rmpf", "--mount-proc=/no/such/dir", "true"]);
    r.assert_code(1);
    assert_eq!(
        r.stderr,
        "unshare: mount /no/such/dir failed: No such file or directory\n"
    );
    // Without --propagation=private, the DIR is made private first; a DIR
    // that is no mount point (EINVAL) is fine.
    let dir = scratch("spawn-proc");
    let p = dir.display().to_string();
    let r = spawned_and_forked(
        &[],
        &[
            "-rmpf",
            &format!("--mount-proc={p}"),
            "--propagation=unchanged",
            "cat",
            &format!("{p}/1/comm"),
        ],
    );
    assert_eq!(r.assert_ok().stdout, "cat\n");
    // Without a PID namespace of its own, a user namespace may not mount
    // proc: the hint says so both ways.
    let r = spawned_and_forked(&[], &["-rmf", "--mount-proc", "true"]);
    r.assert_fails_with(1, "add --pid --fork");
}

#[test]
fn spawned_and_forked_parents_ignore_term_and_int_while_waiting() {
    for extra in [None, Some("--wd=.")] {
        let mut args: Vec<&str> = extra.into_iter().collect();
        args.extend([
            "-f",
            "sh",
            "-c",
            "trap 'exit 3' USR1; echo ready; while :; do sleep 0.05; done",
        ]);
        let (mut un, child) = spawn_fork(&args);
        for sig in ["-TERM", "-INT"] {
            Command::new("kill")
                .args([sig, &un.id().to_string()])
                .status()
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            un.try_wait().unwrap().is_none(),
            "{extra:?}: unshare died of a signal it should ignore"
        );
        Command::new("kill")
            .args(["-USR1", &child])
            .status()
            .unwrap();
        assert_eq!(wait_bounded(&mut un).code(), Some(3), "{extra:?}");
    }
}

#[test]
fn spawned_and_forked_children_die_with_unshare_under_kill_child() {
    for extra in [None, Some("--wd=.")] {
        let mut args: Vec<&str> = extra.into_iter().collect();
        args.extend([
            "--kill-child=TERM",
            "-r",
            "sh",
            "-c",
            "echo ready; while :; do sleep 0.05; done",
        ]);
        let (mut un, child) = spawn_fork(&args);
        un.kill().unwrap();
        un.wait().unwrap();
        wait_until("the child to die", || {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        });
    }
}
