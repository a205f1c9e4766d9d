//! `mkmap`, `newuidmap` and `newgidmap` run for real: each test reads back
//! what the kernel records in `/proc/PID/uid_map`, `gid_map` and `setgroups`.
//!
//! Privilege-boundary tests run a setuid (or file-capability) copy of the
//! binary as uid 65534, with a test `/etc/subuid`/`/etc/subgid` bound over
//! the real ones inside a private mount namespace (the real files are never
//! touched), and the same cases against shadow's helpers (Debian's uidmap).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// util-linux's unshare, to make targets independently of ours.
const UL_UNSHARE: &str = "/usr/bin/unshare";
const SHADOW_NEWUIDMAP: &str = "/usr/bin/newuidmap";
const SHADOW_NEWGIDMAP: &str = "/usr/bin/newgidmap";

/// A process (`sleep`) in a new user namespace whose maps are unwritten.
fn userns_target() -> Target {
    let child = Command::new(UL_UNSHARE)
        .args(["-U", "sleep", "120"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let me = ns_link("self", "user");
    wait_until("the target's new user namespace", || {
        std::fs::read_link(format!("/proc/{pid}/ns/user"))
            .map(|l| l.to_string_lossy() != me)
            .unwrap_or(false)
    });
    Target { child, pid }
}

fn proc_file(pid: u32, name: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{name}")).unwrap()
}

/// A map file's ranges as (inside, outside, count) words.
fn map_of(pid: u32, kind: &str) -> Vec<Vec<u64>> {
    proc_file(pid, &format!("{kind}_map"))
        .lines()
        .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
        .collect()
}

#[test]
fn mkmap_uid_writes_exactly_the_ranges_given() {
    for form in [
        vec!["0:100000:65536", "65536:1000:1"],
        vec!["0", "100000", "65536", "65536", "1000", "1"],
        vec!["0:100000:65536", "65536", "1000", "1"],
    ] {
        let t = userns_target();
        let mut args = vec!["uid".to_string(), t.pid.to_string()];
        args.extend(form.iter().map(|s| s.to_string()));
        run("mkmap", &args).assert_ok();
        assert_eq!(
            map_of(t.pid, "uid"),
            [vec![0, 100000, 65536], vec![65536, 1000, 1]],
            "{form:?}"
        );
        assert_eq!(proc_file(t.pid, "gid_map"), "");
    }
}

#[test]
fn mkmap_takes_pid_colon_and_inherited_proc_or_pidfd_targets() {
    let t = userns_target();
    run("mkmap", &["uid", &format!("pid:{}", t.pid), "0:5000:10"]).assert_ok();
    assert_eq!(map_of(t.pid, "uid"), [vec![0, 5000, 10]]);

    let t = userns_target();
    let r = sh(&format!(
        "exec 3</proc/{pid}; mkmap uid fd:3 0:6000:10",
        pid = t.pid
    ));
    r.assert_ok();
    assert_eq!(map_of(t.pid, "uid"), [vec![0, 6000, 10]]);

    let t = userns_target();
    let py = format!(
        "import os, subprocess, sys\n\
         fd = os.pidfd_open({pid})\n\
         sys.exit(subprocess.run(['{mkmap}', 'gid', 'fd:%d' % fd, '0:7000:10'], pass_fds=[fd]).returncode)",
        pid = t.pid,
        mkmap = applet("mkmap").display()
    );
    let r = run_command(
        {
            let mut c = Command::new("python3");
            c.args(["-c", &py]);
            c
        },
        TIMEOUT,
    );
    r.assert_ok();
    assert_eq!(map_of(t.pid, "gid"), [vec![0, 7000, 10]]);
    // As root (CAP_SETGID) mkmap leaves setgroups alone unless asked.
    assert_eq!(proc_file(t.pid, "setgroups"), "allow\n");
}

#[test]
fn mkmap_gid_writes_setgroups_before_the_map() {
    let t = userns_target();
    run(
        "mkmap",
        &[
            "gid",
            &t.pid.to_string(),
            "--setgroups",
            "deny",
            "0",
            "1000",
            "1",
        ],
    )
    .assert_ok();
    assert_eq!(map_of(t.pid, "gid"), [vec![0, 1000, 1]]);
    assert_eq!(proc_file(t.pid, "setgroups"), "deny\n");
}

#[test]
fn mkmap_second_write_fails_cleanly_and_keeps_the_first_map() {
    let t = userns_target();
    let pid = t.pid.to_string();
    run("mkmap", &["uid", &pid, "0:100000:10"]).assert_ok();
    let r = run("mkmap", &["uid", &pid, "0:200000:10"]);
    r.assert_code(1);
    assert!(
        r.stderr.starts_with(&format!(
            "mkmap: the uid map of process {pid} is already written (0:100000:10)"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(map_of(t.pid, "uid"), [vec![0, 100000, 10]]);
}

#[test]
fn mkmap_refuses_bad_input_naming_the_culprit_and_writes_nothing() {
    let t = userns_target();
    let pid = t.pid.to_string();
    let many: Vec<String> = (0..341).map(|i| format!("{i}:{}:1", 100000 + i)).collect();
    let mut too_many = vec!["uid".to_string(), pid.clone()];
    too_many.extend(many);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            words(&["uid", &pid, "0:100000:10", "5:200000:1"]),
            "0:100000:10 and 5:200000:1: ranges overlap inside",
        ),
        (
            words(&["uid", &pid, "0:100000:10", "20:100009:1"]),
            "0:100000:10 and 20:100009:1: ranges overlap outside",
        ),
        (
            words(&["uid", &pid, "0:100000:0"]),
            "0:100000:0: count must be at least 1",
        ),
        (
            words(&["uid", &pid, "0:4294967290:10"]),
            "0:4294967290:10: range runs past 4294967294",
        ),
        (
            words(&["uid", &pid, "4294967290", "0", "10"]),
            "4294967290:0:10: range runs past 4294967294",
        ),
        (too_many, "341 ranges given, the kernel takes at most 340"),
        (
            words(&["uid", &pid, "0:x:1"]),
            "'0:x:1': 'x' is not a number",
        ),
        (
            words(&["uid", &pid, "0", "-1", "1"]),
            "'0 -1 1': '-1' is not a number",
        ),
        (
            words(&["uid", &pid, "0", "1"]),
            "'0 1': a range needs three numbers",
        ),
        (words(&["uid", &pid]), "no mapping given"),
        (words(&["uid", &pid, ""]), "a range needs three numbers"),
        (
            words(&["uid", "2147483647", "0:0:1"]),
            "cannot open /proc/2147483647: No such process",
        ),
        // A negative PID reads as an option, as getopt(3) reads it.
        (words(&["uid", "-5", "0:0:1"]), "invalid option -- '5'"),
        (
            words(&["uid", "fd:0", "0:0:1"]),
            "fd:0: '/dev/null' is neither a /proc/PID directory nor a pidfd",
        ),
        (words(&["uid", "fd:77", "0:0:1"]), "cannot use fd:77"),
    ];
    for (args, culprit) in cases {
        let r = run("mkmap", &args);
        assert_eq!(r.code(), Some(1), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("mkmap: ") && r.stderr.contains(culprit),
            "{args:?}: expected {culprit:?} in {:?}",
            r.stderr
        );
        assert_eq!(proc_file(t.pid, "uid_map"), "", "{args:?} wrote a map");
    }
    assert_eq!(proc_file(t.pid, "gid_map"), "");
    assert_eq!(proc_file(t.pid, "setgroups"), "allow\n");
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

#[test]
fn mkmap_refuses_a_pid_that_exited() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let r = run("mkmap", &["uid", &pid.to_string(), "0:0:1"]);
    r.assert_fails_with(1, &format!("/proc/{pid}"))
        .assert_fails_with(1, "No such process");
    // An inherited /proc/PID directory of a process that has since exited
    // writes nothing, even if the PID is reused.
    let r = sh("sleep 60 & P=$!; exec 3</proc/$P; kill -9 $P; wait $P; mkmap uid fd:3 0:0:1");
    r.assert_fails_with(1, "No such process");
}

#[test]
fn mkmap_show_prints_the_maps_setgroups_and_namespace_owner() {
    let t = userns_target();
    let pid = t.pid.to_string();
    run("mkmap", &["uid", &pid, "0:100000:65536"]).assert_ok();
    run("mkmap", &["gid", &pid, "--setgroups", "deny", "0:100000:1"]).assert_ok();
    let userns = std::fs::metadata(format!("/proc/{pid}/ns/user")).unwrap();
    use std::os::unix::fs::MetadataExt;
    let r = run("mkmap", &["show", &pid]);
    assert_eq!(
        r.assert_ok().stdout,
        format!(
            "process {pid}: user namespace {} owned by uid 0 (root)\n\
             MAP       INSIDE    OUTSIDE      COUNT\n\
             uid            0     100000      65536\n\
             gid            0     100000          1\n\
             setgroups: deny\n",
            userns.ino()
        )
    );
    let r = run("mkmap", &["show", "--json", &pid]);
    assert_eq!(
        r.assert_ok().stdout,
        format!(
            "{{\"pid\":{pid},\"user_namespace\":{{\"inode\":{},\"owner_uid\":0,\"owner_name\":\"root\"}},\
             \"uid_map\":[{{\"inside\":0,\"outside\":100000,\"count\":65536}}],\
             \"gid_map\":[{{\"inside\":0,\"outside\":100000,\"count\":1}}],\"setgroups\":\"deny\"}}\n",
            userns.ino()
        )
    );
    // With no target: the caller itself, in the initial namespace.
    let r = run("mkmap", &["show", "--json"]);
    assert!(
        r.assert_ok()
            .stdout
            .contains("\"uid_map\":[{\"inside\":0,\"outside\":0,\"count\":4294967295}]"),
        "{}",
        r.stdout
    );
}

#[test]
fn mkmap_check_as_root_allows_any_valid_map_and_refuses_invalid_ones() {
    let r = run("mkmap", &["check", "uid", "0:0:4294967295"]);
    assert!(r.assert_ok().stdout.contains("CAP_SETUID"), "{}", r.stdout);
    let r = run("mkmap", &["check", "gid", "0:0:10", "5:100:1"]);
    r.assert_fails_with(1, "overlap inside");
}

/// As uid 65534: a target of its own in a new user namespace, then `cmds`
/// with `$P` its PID; prints the maps afterwards.
fn nobody_with_own_target(cmds: &str) -> Run {
    sh_as_nobody(&format!(
        "{UL_UNSHARE} -U sleep 120 & P=$!\n\
         for _ in $(seq 500); do [ \"$(readlink /proc/$P/ns/user)\" != \"$(readlink /proc/self/ns/user)\" ] && break; sleep 0.01; done\n\
         {cmds}\necho \"uid_map=[$(cat /proc/$P/uid_map)]\"; echo \"gid_map=[$(cat /proc/$P/gid_map)]\"; \
         echo \"setgroups=$(cat /proc/$P/setgroups)\"; kill -9 $P"
    ))
}

#[test]
fn mkmap_as_unprivileged_maps_its_own_ids_denying_setgroups_for_gid() {
    let r =
        nobody_with_own_target("mkmap uid $P 0:65534:1 && mkmap gid $P 0 65534 1; echo \"rc=$?\"");
    let o = outcome(r);
    assert!(o.accepted, "{o:?}");
    assert_eq!(
        o.uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    assert_eq!(
        o.gid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    assert_eq!(o.setgroups, "deny");
}

#[test]
fn mkmap_as_unprivileged_names_the_range_the_kernel_refused() {
    let r = nobody_with_own_target("mkmap uid $P 0:65534:1 1:100000:10; echo \"rc=$?\"");
    let o = outcome(r);
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(
        o.stderr.contains("Operation not permitted")
            && o.stderr
                .contains("1:100000:10 is refused: uids 100000-100009: not your own uid (65534)"),
        "{}",
        o.stderr
    );
    // Another user's process: not written, and show still reads its maps.
    let t = userns_target();
    run("mkmap", &["uid", &t.pid.to_string(), "0:100000:10"]).assert_ok();
    let r = run_as_nobody("mkmap", &["uid", &t.pid.to_string(), "0:65534:1"]);
    r.assert_code(1);
    let r = run_as_nobody("mkmap", &["show", &t.pid.to_string()]);
    assert!(
        r.assert_ok().stdout.contains("user namespace not visible")
            && r.stdout.contains("uid            0     100000         10"),
        "{}",
        r.stdout
    );
}

// ---- the privilege boundary -------------------------------------------

/// How the copy of the binary is made privileged.
#[derive(Copy, Clone, Debug)]
enum Raise {
    Setuid,
    /// `cap_setuid+ep` on newuidmap, `cap_setgid+ep` on newgidmap.
    FileCaps,
}

/// A directory of privileged copies, removed when the test ends (a setuid
/// root binary must not outlive its test).
struct PrivDir(PathBuf);

impl std::ops::Deref for PrivDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory holding privileged copies of the binary as newuidmap,
/// newgidmap (and, to see them refuse, unshare and mkmap), on a filesystem
/// that honours setuid.
fn privileged_dir(tag: &str, raise: Raise) -> PrivDir {
    let dir = scratch(tag);
    let opts = Command::new("findmnt")
        .args(["-n", "-o", "OPTIONS", "-T"])
        .arg(&dir)
        .output()
        .unwrap();
    let opts = String::from_utf8_lossy(&opts.stdout);
    assert!(
        !opts.split(',').any(|o| o.trim() == "nosuid"),
        "{} is on a nosuid mount ({opts}): setuid tests need another scratch dir",
        dir.display()
    );
    set_mode(&dir, 0o755);
    for (name, cap) in [
        ("newuidmap", "cap_setuid+ep"),
        ("newgidmap", "cap_setgid+ep"),
        ("unshare", "cap_setuid+ep"),
        ("mkmap", "cap_setuid+ep"),
        ("nstools", "cap_setuid+ep"),
    ] {
        let copy = dir.join(name);
        copy_executable(&bin_dir().join("nstools"), &copy);
        match raise {
            Raise::Setuid => set_mode(&copy, 0o4755),
            Raise::FileCaps => {
                set_mode(&copy, 0o755);
                let ok = Command::new("setcap").arg(cap).arg(&copy).status().unwrap();
                assert!(ok.success(), "setcap {cap} failed");
            }
        }
    }
    PrivDir(dir)
}

/// Run `script` as root in a private mount namespace where the test's
/// subuid and subgid texts are bound over /etc/subuid and /etc/subgid.
fn with_subids(subuid: &str, subgid: &str, script: &str) -> Run {
    let dir = scratch("subids");
    std::fs::write(dir.join("subuid"), subuid).unwrap();
    std::fs::write(dir.join("subgid"), subgid).unwrap();
    set_mode(&dir.join("subuid"), 0o644);
    set_mode(&dir.join("subgid"), 0o644);
    let setup = format!(
        "mount --bind {d}/subuid /etc/subuid && mount --bind {d}/subgid /etc/subgid || exit 99\n\
         as_nobody=\"setpriv --reuid=65534 --regid=65534 --clear-groups --\"\n\
         wait_userns() {{ for _ in $(seq 500); do \
           [ \"$(readlink /proc/$1/ns/user 2>/dev/null)\" != \"$(readlink /proc/self/ns/user)\" ] && \
           [ -e /proc/$1/ns/user ] && return 0; sleep 0.01; done; echo 'target never started' >&2; exit 98; }}\n\
         maps() {{ echo \"uid_map=[$(cat /proc/$1/uid_map | tr -s ' \\n' ' ')]\"; \
           echo \"gid_map=[$(cat /proc/$1/gid_map | tr -s ' \\n' ' ')]\"; \
           echo \"setgroups=$(cat /proc/$1/setgroups)\"; }}\n\
         export -f wait_userns maps\nexport as_nobody\n",
        d = dir.display()
    );
    let mut cmd = Command::new(UL_UNSHARE);
    cmd.args(["-m", "--propagation=private", "bash", "-c"])
        .arg(format!("{setup}{script}"))
        .env("PATH", path_with_applets());
    run_command(cmd, TIMEOUT)
}

const SUBUID: &str = "nobody:100000:65536\nnobody:165536:100\n";
const SUBGID: &str = "nobody:200000:65536\n";

/// What one mapper run decided and what the kernel then recorded.
#[derive(Debug)]
struct Outcome {
    accepted: bool,
    uid_map: String,
    gid_map: String,
    setgroups: String,
    stderr: String,
}

/// Who owns the target the mapper is pointed at.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Owner {
    Nobody,
    Root,
}

/// Start a target owned by `owner` in a new user namespace, then run
/// `mapper ARGS` against it as uid 65534, with the test delegations.
fn map_as_nobody(mapper: &Path, owner: Owner, args: &str, subuid: &str, subgid: &str) -> Outcome {
    let start = match owner {
        Owner::Nobody => format!("$as_nobody {UL_UNSHARE} -U sleep 120 & P=$!"),
        Owner::Root => format!("{UL_UNSHARE} -U sleep 120 & P=$!"),
    };
    let script = format!(
        "{start}\nwait_userns $P\n\
         $as_nobody {mapper} $P {args}; echo \"rc=$?\"\nmaps $P\nkill -9 $P",
        mapper = mapper.display()
    );
    outcome(with_subids(subuid, subgid, &script))
}

fn outcome(r: Run) -> Outcome {
    let field = |name: &str| {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {:?} / {:?}", r.stdout, r.stderr))
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string()
    };
    Outcome {
        accepted: field("rc") == "0",
        uid_map: field("uid_map"),
        gid_map: field("gid_map"),
        setgroups: field("setgroups"),
        stderr: r.stderr.clone(),
    }
}

#[test]
fn newuidmap_setuid_maps_the_delegated_range_and_nothing_else() {
    let dir = privileged_dir("suid-uid", Raise::Setuid);
    let m = dir.join("newuidmap");
    let o = map_as_nobody(&m, Owner::Nobody, "0 100000 65536", SUBUID, SUBGID);
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 100000 65536");
    // Adjacent delegations may be spanned; own uid alone is allowed too.
    let o = map_as_nobody(
        &m,
        Owner::Nobody,
        "0 65534 1 1 100000 65636",
        SUBUID,
        SUBGID,
    );
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 65534 1 1 100000 65636");

    let o = map_as_nobody(&m, Owner::Nobody, "0 100000 65637", SUBUID, SUBGID);
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(
        o.stderr
            .contains("newuidmap: range 0 100000 65637 refused: uids 100000-165636")
            && o.stderr
                .contains("100000-165535 (line 1), 165536-165635 (line 2)"),
        "{}",
        o.stderr
    );
    let o = map_as_nobody(&m, Owner::Nobody, "0 0 1", SUBUID, SUBGID);
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(
        o.stderr
            .contains("range 0 0 1 refused: uid 0: not your own uid (65534)"),
        "{}",
        o.stderr
    );
    // Another user's process: nothing written, the owner named.
    let o = map_as_nobody(&m, Owner::Root, "0 100000 10", SUBUID, SUBGID);
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(
        o.stderr.contains("is owned by uid 0 gid 0, not by you"),
        "{}",
        o.stderr
    );
}

#[test]
fn newgidmap_with_only_the_own_gid_denies_setgroups() {
    let dir = privileged_dir("suid-gid", Raise::Setuid);
    let m = dir.join("newgidmap");
    let o = map_as_nobody(&m, Owner::Nobody, "0 65534 1", SUBUID, SUBGID);
    assert!(o.accepted, "{o:?}");
    assert_eq!(
        (o.gid_map.as_str(), o.setgroups.as_str()),
        ("0 65534 1", "deny")
    );
    // A range from /etc/subgid leaves setgroups allowed (CVE-2018-7169 rule).
    let o = map_as_nobody(&m, Owner::Nobody, "0 200000 65536", SUBUID, SUBGID);
    assert!(o.accepted, "{o:?}");
    assert_eq!(
        (o.gid_map.as_str(), o.setgroups.as_str()),
        ("0 200000 65536", "allow")
    );
    let o = map_as_nobody(&m, Owner::Nobody, "0 0 1", SUBUID, SUBGID);
    assert!(!o.accepted && o.gid_map.is_empty(), "{o:?}");
    assert_eq!(o.setgroups, "allow", "a refusal must not deny setgroups");
}

#[test]
fn newuidmap_skips_a_malformed_subuid_line_with_a_warning() {
    let dir = privileged_dir("suid-bad", Raise::Setuid);
    let subuid = "nobody:100000\nnobody:100000:65536\n";
    let o = map_as_nobody(
        &dir.join("newuidmap"),
        Owner::Nobody,
        "0 100000 10",
        subuid,
        SUBGID,
    );
    assert!(o.accepted, "{o:?}");
    assert!(
        o.stderr
            .contains("newuidmap: warning: /etc/subuid:1: skipping malformed line"),
        "{}",
        o.stderr
    );
}

#[test]
fn newuidmap_ignores_the_environment_when_privileged() {
    let dir = privileged_dir("suid-env", Raise::Setuid);
    let fake = scratch("fake-etc");
    std::fs::write(fake.join("subuid"), "nobody:0:4294967295\n").unwrap();
    let env = format!(
        "env SUBUID={f}/subuid SUBUID_FILE={f}/subuid ETC={f} SYSCONFDIR={f} LOGIN_DEFS={f}/x \
         HOME={f} XDG_CONFIG_HOME={f} LANG=C.UTF-8 LC_ALL=xx LOCPATH={f} NLSPATH={f}/%N \
         PATH={f}:/usr/bin",
        f = fake.display()
    );
    let script = format!(
        "$as_nobody {UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
         $as_nobody {env} {m} $P 0 300000 10; echo \"rc=$?\"\nmaps $P\nkill -9 $P",
        m = dir.join("newuidmap").display()
    );
    let o = outcome(with_subids(SUBUID, SUBGID, &script));
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(
        o.stderr.contains("/etc/subuid delegates you 100000-165535"),
        "{}",
        o.stderr
    );
}

#[test]
fn privileged_copies_refuse_every_applet_but_the_mappers() {
    for raise in [Raise::Setuid, Raise::FileCaps] {
        let dir = privileged_dir("raised", raise);
        for (name, file, args) in [
            ("unshare", "unshare", "-r id"),
            ("mkmap", "mkmap", "show"),
            ("unshare", "nstools", "unshare -r id"),
        ] {
            let script = format!(
                "$as_nobody {} {args}; echo \"rc=$?\"",
                dir.join(file).display()
            );
            let r = with_subids(SUBUID, SUBGID, &script);
            assert!(r.stdout.contains("rc=1"), "{raise:?} {name}: {r:?}");
            assert!(
                r.stderr
                    .starts_with(&format!("{name}: refusing to run with raised privileges")),
                "{raise:?} {name}: {}",
                r.stderr
            );
        }
    }
}

#[test]
fn file_capability_copies_map_delegations_but_not_host_uid_0_without_setfcap() {
    let dir = privileged_dir("fcaps", Raise::FileCaps);
    let o = map_as_nobody(
        &dir.join("newuidmap"),
        Owner::Nobody,
        "0 100000 65536",
        SUBUID,
        SUBGID,
    );
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 100000 65536");
    let o = map_as_nobody(
        &dir.join("newgidmap"),
        Owner::Nobody,
        "0 200000 10",
        SUBUID,
        SUBGID,
    );
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.gid_map, "0 200000 10");
    // Even delegated, host uid 0 needs CAP_SETFCAP (Linux 5.12+), which a
    // cap_setuid-only copy lacks: refused by us before the kernel would.
    let subuid = "nobody:0:1\nnobody:100000:65536\n";
    let o = map_as_nobody(
        &dir.join("newuidmap"),
        Owner::Nobody,
        "0 0 1",
        subuid,
        SUBGID,
    );
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(o.stderr.contains("CAP_SETFCAP"), "{}", o.stderr);
    // The setuid-root copy holds CAP_SETFCAP and keeps it for this map.
    let suid = privileged_dir("fcaps-suid", Raise::Setuid);
    let o = map_as_nobody(
        &suid.join("newuidmap"),
        Owner::Nobody,
        "0 0 1",
        subuid,
        SUBGID,
    );
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 0 1");
}

#[test]
fn a_target_pid_replaced_after_it_was_opened_is_not_written() {
    let dir = privileged_dir("reuse", Raise::Setuid);
    // (who runs the targets and the mapper, the mapper command)
    let cases = [
        ("", "mkmap uid fd:3 0:100000:10".to_string()),
        (
            "$as_nobody ",
            format!("{} fd:3 0 100000 10", dir.join("newuidmap").display()),
        ),
    ];
    for (who, mapper) in cases {
        // In a PID namespace of our own, ns_last_pid makes the kernel hand the
        // dead target's PID to a new process; the mapper holds the old
        // /proc/PID directory (fd:3) and must write nothing to the new one.
        let script = format!(
            "{who}{UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\nexec 3</proc/$P\n\
             kill -9 $P; wait $P 2>/dev/null\necho $((P - 1)) > /proc/sys/kernel/ns_last_pid\n\
             {who}{UL_UNSHARE} -U sleep 120 & Q=$!\nwait_userns $Q\n\
             [ $P = $Q ] && echo reused\n{who}id -u | sed s/^/who=/\n\
             {who}{mapper}; echo \"rc=$?\"\nmaps $Q\nkill -9 $Q"
        );
        let wrapped = format!(
            "exec {UL_UNSHARE} --pid --fork --mount-proc bash -c '{}'",
            script.replace('\'', "'\\''")
        );
        let r = with_subids(SUBUID, SUBGID, &wrapped);
        assert!(r.stdout.contains("reused"), "the PID was not reused: {r:?}");
        let uid = if who.is_empty() { "who=0" } else { "who=65534" };
        assert!(r.stdout.contains(uid), "{uid}: {r:?}");
        let o = outcome(r);
        assert!(!o.accepted && o.uid_map.is_empty(), "{mapper}: {o:?}");
        assert!(
            o.stderr.contains("No such process"),
            "{mapper}: {}",
            o.stderr
        );
    }
}

/// Shadow's helpers and ours must take the same decisions, and leave the
/// same record in the kernel. Where ours is stricter the case says why.
/// Ours is also stricter outside this table, with no accept/refuse
/// difference the kernel would not make anyway: overlapping or wrapping
/// ranges and host uid 0 without CAP_SETFCAP are refused before any write
/// (shadow passes them on and the kernel refuses), so nothing, not even
/// setgroups, is written for them.
#[test]
fn newuidmap_and_newgidmap_decide_as_shadows_do() {
    let dir = privileged_dir("diff", Raise::Setuid);
    let cases: &[(&str, Owner, &str)] = &[
        ("newuidmap", Owner::Nobody, "0 100000 65536"),
        ("newuidmap", Owner::Nobody, "0 65534 1"),
        ("newuidmap", Owner::Nobody, "0 65534 1 1 100000 65536"),
        ("newuidmap", Owner::Nobody, "0 100000 65636"),
        ("newuidmap", Owner::Nobody, "0 100000 65637"),
        ("newuidmap", Owner::Nobody, "0 200000 10"),
        ("newuidmap", Owner::Nobody, "0 0 1"),
        ("newuidmap", Owner::Nobody, "0 65534 2"),
        ("newuidmap", Owner::Nobody, "0 100000 0"),
        // Overlapping ranges: shadow passes them to the kernel, which refuses;
        // ours refuses before writing.
        ("newuidmap", Owner::Nobody, "0 100000 10 5 100100 10"),
        ("newuidmap", Owner::Root, "0 100000 10"),
        ("newgidmap", Owner::Nobody, "0 65534 1"),
        ("newgidmap", Owner::Nobody, "0 200000 65536"),
        ("newgidmap", Owner::Nobody, "0 100000 1"),
        ("newgidmap", Owner::Root, "0 200000 10"),
    ];
    for &(name, owner, args) in cases {
        let shadow = if name == "newuidmap" {
            SHADOW_NEWUIDMAP
        } else {
            SHADOW_NEWGIDMAP
        };
        let ours = map_as_nobody(&dir.join(name), owner, args, SUBUID, SUBGID);
        let theirs = map_as_nobody(Path::new(shadow), owner, args, SUBUID, SUBGID);
        assert_eq!(
            ours.accepted, theirs.accepted,
            "{name} {args} ({owner:?}): ours {ours:?}, shadow's {theirs:?}"
        );
        assert_eq!(
            (&ours.uid_map, &ours.gid_map, &ours.setgroups),
            (&theirs.uid_map, &theirs.gid_map, &theirs.setgroups),
            "{name} {args} ({owner:?}): the kernel's record differs"
        );
    }
}

#[test]
fn mkmap_auto_and_subids_map_the_first_delegation() {
    let script = format!(
        "{UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
         mkmap uid $P --auto && mkmap gid $P --subids; echo \"rc=$?\"\nmaps $P\nkill -9 $P"
    );
    let o = outcome(with_subids(
        "root:100000:65536\nroot:300000:10\n",
        "root:200000:65536\n",
        &script,
    ));
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 100000 65536");
    assert_eq!(o.gid_map, "0 0 1 1 200000 65536");
    let r = with_subids("", "", "mkmap uid $$ --auto");
    r.assert_code(1);
    assert!(
        r.stderr
            .contains("--auto: /etc/subuid delegates nothing to you"),
        "{}",
        r.stderr
    );
}

#[test]
fn mkmap_check_as_unprivileged_names_the_refused_range() {
    let dir = privileged_dir("check", Raise::Setuid);
    let script = format!(
        "export PATH={d}:$PATH\n\
         $as_nobody {m} check uid 0:65534:1; echo \"own=$?\"\n\
         $as_nobody {m} check uid 0:65534:1 1:100000:65536; echo \"deleg=$?\"\n\
         $as_nobody {m} check uid 0:0:1 1:100000:65536; echo \"root=$?\"\n\
         PATH=/usr/bin:/bin $as_nobody {m} check uid 0:65534:1 1:100000:65536; echo \"shadow=$?\"",
        d = dir.display(),
        m = applet("mkmap").display()
    );
    let r = with_subids(SUBUID, SUBGID, &script);
    for want in ["own=0", "deleg=0", "root=1", "shadow=0"] {
        assert!(r.stdout.contains(want), "{want}: {r:?}");
    }
    assert!(
        r.stdout
            .contains("1:100000:65536: allowed: delegated in /etc/subuid"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("mkmap: refused: 0:0:1: uid 0: not your own uid (65534)"),
        "{}",
        r.stderr
    );
}

// ---- unshare --map-users/--map-groups/--map-auto/--map-subids ----------

#[test]
fn unshare_map_users_and_groups_as_root_write_directly() {
    let r = run(
        "unshare",
        &[
            "--map-users=0:100000:65536",
            "--map-groups=0:200000:65536",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
            "/proc/self/setgroups",
        ],
    );
    let w: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(w, ["0", "100000", "65536", "0", "200000", "65536", "allow"]);
    // util-linux 2.38's OUTER,INNER,COUNT spelling still works.
    let r = run(
        "unshare",
        &["--map-users=100000,0,10", "cat", "/proc/self/uid_map"],
    );
    let w: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(w, ["0", "100000", "10"]);
    let r = run(
        "unshare",
        &[
            "--map-users=all",
            "--map-groups=all",
            "cat",
            "/proc/self/uid_map",
        ],
    );
    let w: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(w, ["0", "0", "4294967295"]);
    let r = run("unshare", &["--map-users=0:100000:0", "true"]);
    r.assert_fails_with(1, "count must be at least 1");
}

#[test]
fn unshare_map_auto_and_subids_as_root_use_roots_delegations() {
    let script = "unshare --map-auto cat /proc/self/uid_map /proc/self/gid_map; echo ===; \
                  unshare --map-subids cat /proc/self/uid_map /proc/self/gid_map";
    let r = with_subids("root:100000:65536\n", "root:200000:65536\n", script);
    let w: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(
        w,
        [
            "0", "100000", "65536", "0", "200000", "65536", "===", "0", "0", "1", "1", "100000",
            "65536", "0", "0", "1", "1", "200000", "65536"
        ]
    );
}

#[test]
fn unshare_map_options_as_unprivileged_go_through_our_setuid_newuidmap() {
    let dir = privileged_dir("unshare-suid", Raise::Setuid);
    let script = format!(
        "export PATH={d}:$PATH\n\
         $as_nobody {u} --map-auto cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; echo ===\n\
         $as_nobody {u} --map-subids cat /proc/self/uid_map /proc/self/gid_map; echo ===\n\
         $as_nobody {u} --map-users=0:100000:10 --map-groups=0:65534:1 cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; echo ===\n\
         $as_nobody {u} --map-users=0:0:1 true; echo \"rc=$?\"",
        d = dir.display(),
        u = applet("unshare").display()
    );
    let r = with_subids(SUBUID, SUBGID, &script);
    let out: Vec<Vec<&str>> = r
        .stdout
        .split("===")
        .map(|s| s.split_whitespace().collect())
        .collect();
    assert_eq!(
        out[0],
        ["0", "100000", "65536", "0", "200000", "65536", "allow"],
        "{r:?}"
    );
    assert_eq!(
        out[1],
        ["0", "65534", "1", "1", "100000", "65536", "0", "65534", "1", "1", "200000", "65536"],
        "{r:?}"
    );
    assert_eq!(
        out[2],
        ["0", "100000", "10", "0", "65534", "1", "deny"],
        "{r:?}"
    );
    assert_eq!(out[3], ["rc=1"], "{r:?}");
    assert!(
        r.stderr.contains("newuidmap: range 0 0 1 refused")
            && r.stderr.contains("newuidmap failed (exit status 1)"),
        "{}",
        r.stderr
    );
}

#[test]
fn unshare_map_auto_as_unprivileged_works_with_shadows_newuidmap_too() {
    let script = "export PATH=/usr/bin:/bin\n\
                  $as_nobody {unshare} --map-auto cat /proc/self/uid_map /proc/self/gid_map";
    let script = script.replace("{unshare}", &applet("unshare").display().to_string());
    let r = with_subids(SUBUID, SUBGID, &script);
    let w: Vec<&str> = r.assert_ok().stdout.split_whitespace().collect();
    assert_eq!(w, ["0", "100000", "65536", "0", "200000", "65536"], "{r:?}");
}

#[test]
fn newuidmap_as_root_is_not_exempt_from_delegations() {
    let script = format!(
        "{UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
         newuidmap $P 0 300000 10; echo \"outside=$?\"\n\
         newuidmap $P 0 0 1 1 100000 65536; echo \"rc=$?\"\nmaps $P\nkill -9 $P"
    );
    let r = with_subids("root:100000:65536\n", "", &script);
    assert!(r.stdout.contains("outside=1"), "{r:?}");
    assert!(
        r.stderr.contains(
            "newuidmap: range 0 300000 10 refused: uids 300000-300009: not your own uid (0)"
        ),
        "{}",
        r.stderr
    );
    let o = outcome(r);
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 0 1 1 100000 65536");
}

#[test]
fn newuidmap_setuid_reads_a_subuid_file_only_root_may_read() {
    let dir = privileged_dir("suid-0600", Raise::Setuid);
    // /etc/subuid here is the test's own file bound over the real one.
    let script = format!(
        "chmod 600 /etc/subuid\n$as_nobody {UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
         $as_nobody {m} $P 0 100000 10; echo \"rc=$?\"\nmaps $P\nkill -9 $P",
        m = dir.join("newuidmap").display()
    );
    let o = outcome(with_subids(SUBUID, SUBGID, &script));
    assert!(o.accepted, "{o:?}");
    assert_eq!(o.uid_map, "0 100000 10");
}

#[test]
fn mkmap_as_unprivileged_hands_wider_maps_to_a_setuid_newuidmap() {
    let dir = privileged_dir("mkmap-handoff", Raise::Setuid);
    let mkmap = applet("mkmap");
    for path in [
        format!("{}:/usr/bin:/bin", dir.display()),
        "/usr/bin:/bin".into(),
    ] {
        let script = format!(
            "$as_nobody {UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
             PATH={path} $as_nobody {m} uid $P 0:0:1; echo \"root=$?\"\n\
             PATH={path} $as_nobody {m} uid $P --auto && PATH={path} $as_nobody {m} gid $P --subids; \
             echo \"rc=$?\"\nmaps $P\nkill -9 $P",
            m = mkmap.display()
        );
        let r = with_subids(SUBUID, SUBGID, &script);
        assert!(r.stdout.contains("root=1"), "{path}: {r:?}");
        let o = outcome(r);
        assert!(o.accepted, "{path}: {o:?}");
        assert_eq!(o.uid_map, "0 100000 65536", "{path}");
        assert_eq!(o.gid_map, "0 65534 1 1 200000 65536", "{path}");
        assert_eq!(o.setgroups, "allow", "{path}");
        if path.starts_with(&*dir.to_string_lossy()) {
            assert!(
                o.stderr.contains("newuidmap: range 0 0 1 refused"),
                "{}",
                o.stderr
            );
        }
    }
}

#[test]
fn newuidmap_without_privilege_says_it_must_be_installed_setuid() {
    let script = format!(
        "$as_nobody {UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
         $as_nobody {m} $P 0 100000 10; echo \"rc=$?\"\nmaps $P\nkill -9 $P",
        m = applet("newuidmap").display()
    );
    let o = outcome(with_subids(SUBUID, SUBGID, &script));
    assert!(!o.accepted && o.uid_map.is_empty(), "{o:?}");
    assert!(
        o.stderr.contains("Operation not permitted")
            && o.stderr
                .contains("neither setuid root nor has file capabilities"),
        "{}",
        o.stderr
    );
}

/// Run `mapper_call` (a shell line using `$R`, root's target, and `$M`, the
/// setuid newuidmap) as uid 65534 and return the outcome on root's target.
fn against_roots_target(dir: &Path, prepare: &str, mapper_call: &str) -> Outcome {
    let script = format!(
        "{UL_UNSHARE} -U sleep 120 & R=$!\nwait_userns $R\nM={m}\n{prepare}\n\
         $as_nobody bash -c \"{mapper_call}\"; echo \"rc=$?\"\nmaps $R\nkill -9 $R",
        m = dir.join("newuidmap").display()
    );
    outcome(with_subids(SUBUID, SUBGID, &script))
}

#[test]
fn newuidmap_setuid_refuses_an_fd_that_is_not_a_process_of_the_caller() {
    let dir = privileged_dir("suid-fds", Raise::Setuid);
    let fake = scratch("fake-proc");
    let f = fake.display();
    let cases = [
        // A directory of the caller's own that imitates /proc/R, its files
        // symlinks to root's process.
        (
            format!("ln -s /proc/$R/uid_map {f}/uid_map; ln -s /proc/$R/status {f}/status"),
            format!("exec 3<{f}; $M fd:3 0 100000 10"),
            "is neither a /proc/PID directory nor a pidfd",
        ),
        // The real /proc/R, and one of its task directories.
        (
            String::new(),
            "exec 3</proc/$R; $M fd:3 0 100000 10".to_string(),
            "is owned by uid 0 gid 0, not by you",
        ),
        (
            String::new(),
            "exec 3</proc/$R/task/$R; $M fd:3 0 100000 10".to_string(),
            "is owned by uid 0 gid 0, not by you",
        ),
        // A pidfd of root's process (pidfd_open needs no permission).
        (
            String::new(),
            "/usr/bin/python3 -c 'import os; fd = os.pidfd_open($R); os.set_inheritable(fd, True); \
             os.execv(\\\"$M\\\", [\\\"newuidmap\\\", \\\"fd:%d\\\" % fd, \\\"0\\\", \\\"100000\\\", \\\"10\\\"])'"
                .to_string(),
            "is owned by uid 0 gid 0, not by you",
        ),
        // root's uid_map itself, opened for writing by root and left open
        // for the caller.
        (
            "exec 4>/proc/$R/uid_map".to_string(),
            "$M fd:4 0 100000 10".to_string(),
            "not a /proc/PID directory",
        ),
    ];
    for (prepare, call, why) in cases {
        let o = against_roots_target(&dir, &prepare, &call);
        assert!(!o.accepted && o.uid_map.is_empty(), "{call}: {o:?}");
        assert!(o.stderr.contains(why), "{call}: {}", o.stderr);
        for entry in std::fs::read_dir(&fake).unwrap() {
            let _ = std::fs::remove_file(entry.unwrap().path());
        }
    }
}

#[test]
fn newuidmap_setuid_with_stdio_closed_writes_nothing_but_the_map() {
    // A privileged helper started with 0, 1 and 2 closed gets those numbers
    // for the files it opens: its messages must never land in a map.
    let dir = privileged_dir("suid-stdio", Raise::Setuid);
    let m = dir.join("newuidmap");
    for (args, want) in [("0 0 1", ""), ("0 100000 10", "0 100000 10")] {
        let script = format!(
            "$as_nobody {UL_UNSHARE} -U sleep 120 & P=$!\nwait_userns $P\n\
             $as_nobody {m} $P {args} <&- >&- 2>&-; echo \"rc=$?\"\nmaps $P\nkill -9 $P",
            m = m.display()
        );
        let o = outcome(with_subids(SUBUID, SUBGID, &script));
        assert_eq!(o.accepted, !want.is_empty(), "{args}: {o:?}");
        assert_eq!(o.uid_map, want, "{args}: {o:?}");
    }
}

#[test]
fn newuidmap_setuid_refuses_ranges_that_wrap_and_delegations_that_do() {
    let dir = privileged_dir("suid-wrap", Raise::Setuid);
    let m = dir.join("newuidmap");
    for args in [
        "0 4294967295 1",
        "0 4294967295 2",
        "4294967295 100000 1",
        "0 100000 4294967295",
        "4294967290 100000 10",
        // Two ranges whose inside ids overlap; then whose outside ids do.
        "0 100000 10 5 100100 10",
        "0 100000 10 100 100005 10",
    ] {
        let o = map_as_nobody(&m, Owner::Nobody, args, SUBUID, SUBGID);
        assert!(!o.accepted && o.uid_map.is_empty(), "{args}: {o:?}");
    }
    // A delegation past the last id is skipped, not truncated or wrapped.
    let wrapping = "nobody:4294967000:1000\n";
    for args in ["0 4294967000 10", "0 0 1"] {
        let o = map_as_nobody(&m, Owner::Nobody, args, wrapping, SUBGID);
        assert!(!o.accepted && o.uid_map.is_empty(), "{args}: {o:?}");
    }
}

#[test]
fn every_applet_but_the_mappers_refuses_raised_privileges_under_any_name() {
    for raise in [Raise::Setuid, Raise::FileCaps] {
        let dir = privileged_dir("raised-all", raise);
        for name in applets() {
            if name == "newuidmap" || name == "newgidmap" {
                continue;
            }
            // By its own name (a symlink to the privileged copy) and as a
            // word after the privileged nstools; --version would otherwise
            // succeed without doing anything.
            let link = dir.join(&name);
            if !link.exists() {
                std::os::unix::fs::symlink("nstools", &link).unwrap();
            }
            for call in [
                format!("{} --version", link.display()),
                format!("{} {name} --version", dir.join("nstools").display()),
            ] {
                let script = format!("$as_nobody {call}; echo \"rc=$?\"");
                let r = with_subids(SUBUID, SUBGID, &script);
                assert!(r.stdout.contains("rc=1"), "{raise:?} {call}: {r:?}");
                assert!(
                    r.stderr
                        .starts_with(&format!("{name}: refusing to run with raised privileges")),
                    "{raise:?} {call}: {}",
                    r.stderr
                );
            }
        }
    }
}
