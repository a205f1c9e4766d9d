//! The multicall binary: choosing the applet by argv[0] or by the first word.

mod common;

use std::process::Command;

use common::*;

fn nstools(args: &[&str]) -> Run {
    let mut cmd = Command::new(bin_dir().join("nstools"));
    cmd.args(args);
    run_command(cmd, TIMEOUT)
}

#[test]
fn list_prints_every_applet_one_per_line() {
    let r = nstools(&["--list"]);
    let names: Vec<&str> = r.assert_ok().stdout.lines().collect();
    assert!(names.contains(&"unshare"), "{names:?}");
    for name in &names {
        assert!(!name.is_empty() && !name.contains(' '), "{name:?}");
        assert!(applet(name).exists());
    }
}

#[test]
fn help_and_version_describe_the_binary() {
    let r = nstools(&["--help"]);
    assert!(r.assert_ok().stdout.contains("unshare"), "{}", r.stdout);
    let r = nstools(&["--version"]);
    assert_eq!(
        r.assert_ok().stdout,
        format!("nstools {}\n", env!("CARGO_PKG_VERSION"))
    );
    let r = run("unshare", &["--help"]);
    assert!(r.assert_ok().stdout.contains("--map-root-user"));
    for line in r.stdout.lines() {
        assert!(
            line.chars().count() <= 80,
            "help line wider than 80 columns: {line:?}"
        );
    }
}

#[test]
fn the_applet_can_be_the_first_word() {
    let r = nstools(&["unshare", "-r", "id", "-u"]);
    assert_eq!(r.assert_ok().stdout, "0\n");
}

#[test]
fn an_unknown_applet_is_refused_with_exit_1() {
    let r = nstools(&["frobnicate"]);
    r.assert_fails_with(1, "'frobnicate' is not an applet");
    let dir = scratch("unknown");
    let link = dir.join("frobnicate");
    std::os::unix::fs::symlink(bin_dir().join("nstools"), &link).unwrap();
    let r = run_command(Command::new(&link), TIMEOUT);
    r.assert_fails_with(1, "'frobnicate' is not an applet");
}

#[test]
fn applets_refuse_to_run_setuid() {
    let dir = scratch("setuid");
    let copy = dir.join("nstools");
    copy_executable(&bin_dir().join("nstools"), &copy);
    set_mode(&copy, 0o4755);
    std::os::unix::fs::symlink("nstools", dir.join("unshare")).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(dir.join("unshare"))
        .args(["-r", "id"]);
    let r = run_command(cmd, TIMEOUT);
    r.assert_code(1);
    assert!(
        r.stderr
            .starts_with("unshare: refusing to run with raised privileges"),
        "{}",
        r.stderr
    );
}

#[test]
fn make_install_and_uninstall_honour_destdir_and_prefix() {
    let dest = scratch("destdir");
    let make = |target: &str| {
        let mut cmd = Command::new("make");
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--no-print-directory")
            .arg(target)
            // The binary this test run built: make must not build another.
            .arg(format!("BIN={}", env!("CARGO_BIN_EXE_nstools")))
            .arg(format!("DESTDIR={}", dest.display()))
            .arg("PREFIX=/opt/ns");
        run_command(cmd, TIMEOUT)
    };
    let bindir = dest.join("opt/ns/bin");
    make("install").assert_ok();
    for name in applets() {
        let link = bindir.join(&name);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            std::path::Path::new("nstools"),
            "{name}"
        );
    }
    let mut cmd = Command::new(bindir.join("unshare"));
    cmd.args(["-r", "id", "-u"]);
    assert_eq!(run_command(cmd, TIMEOUT).assert_ok().stdout, "0\n");
    // A file that has since replaced one of our links is not ours to remove.
    let replaced = bindir.join("unshare");
    std::fs::remove_file(&replaced).unwrap();
    std::fs::write(&replaced, "someone else's\n").unwrap();
    make("uninstall").assert_ok();
    let left: Vec<String> = std::fs::read_dir(&bindir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["unshare"]);
}

#[test]
fn a_renamed_copy_of_the_binary_still_takes_the_applet_as_first_word() {
    let dir = scratch("renamed");
    // A link, not a copy: a copy being written while another test forks can
    // fail to execute (ETXTBSY). The name is what dispatch looks at.
    let copy = dir.join("nstools-0.1");
    std::os::unix::fs::symlink(bin_dir().join("nstools"), &copy).unwrap();
    let mut cmd = Command::new(&copy);
    cmd.args(["unshare", "-r", "id", "-u"]);
    assert_eq!(run_command(cmd, TIMEOUT).assert_ok().stdout, "0\n");
    let mut cmd = Command::new(&copy);
    cmd.arg("--list");
    let listed = run_command(cmd, TIMEOUT);
    assert_eq!(
        listed.assert_ok().stdout.lines().collect::<Vec<_>>(),
        applets()
    );
}
