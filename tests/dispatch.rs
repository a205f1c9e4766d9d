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
    r.assert_code(1);
    assert!(
        r.stderr.contains("'frobnicate' is not an applet"),
        "{}",
        r.stderr
    );
    let dir = scratch("unknown");
    let link = dir.join("frobnicate");
    std::os::unix::fs::symlink(bin_dir().join("nstools"), &link).unwrap();
    let r = run_command(Command::new(&link), TIMEOUT);
    r.assert_code(1);
    assert!(
        r.stderr.contains("'frobnicate' is not an applet"),
        "{}",
        r.stderr
    );
}

#[test]
fn applets_refuse_to_run_setuid() {
    let dir = scratch("setuid");
    let copy = dir.join("nstools");
    std::fs::copy(bin_dir().join("nstools"), &copy).unwrap();
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
