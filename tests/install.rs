//! `make install` into a DESTDIR puts every file, link and mode where the
//! README says; `make uninstall` removes exactly that.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run make in the repository with the built (debug) binary, so the test
/// needs no release build. The outer make's jobserver is not ours.
fn make(args: &[&str]) -> Run {
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(root())
        .args(args)
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_nstools")))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    run_command(cmd, TIMEOUT)
}

/// What is under `dir`, directories left out: path -> (kind, mode or link).
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, format!("link -> {}", target.display()));
            } else {
                out.insert(
                    rel,
                    format!("file {:o}", meta.permissions().mode() & 0o7777),
                );
            }
        }
    }
    out
}

/// The files of a repository directory whose names pass `keep`.
fn repo_files(dir: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}

/// Everything install must put, relative to DESTDIR, for these dirs.
fn expected(bindir: &str, mandir: &str, comp: [&str; 3]) -> BTreeMap<String, String> {
    let mut want = BTreeMap::new();
    want.insert(format!("{bindir}/nstools"), "file 755".to_string());
    for a in applets() {
        want.insert(format!("{bindir}/{a}"), "link -> nstools".to_string());
    }
    for page in repo_files("man", |n| n.ends_with(".1") || n.ends_with(".8")) {
        let section = page.rsplit('.').next().unwrap().to_string();
        let kind = match std::fs::read_link(root().join("man").join(&page)) {
            Ok(target) => format!("link -> {}", target.display()),
            Err(_) => "file 644".to_string(),
        };
        want.insert(format!("{mandir}/man{section}/{page}"), kind);
    }
    for (shell, dir) in ["bash", "zsh", "fish"].iter().zip(comp) {
        for f in repo_files(&format!("completions/{shell}"), |_| true) {
            want.insert(format!("{dir}/{f}"), "file 644".to_string());
        }
    }
    want
}

fn assert_same_contents(installed: &Path, original: &Path) {
    assert!(
        std::fs::read(installed).unwrap() == std::fs::read(original).unwrap(),
        "{} differs from {}",
        installed.display(),
        original.display()
    );
}

#[test]
fn install_puts_binary_links_pages_and_completions_and_uninstall_removes_them() {
    let dest = scratch("destdir");
    let destdir = format!("DESTDIR={}", dest.display());
    make(&["install", &destdir]).assert_ok();
    let want = expected(
        "usr/local/bin",
        "usr/local/share/man",
        [
            "usr/local/share/bash-completion/completions",
            "usr/local/share/zsh/site-functions",
            "usr/local/share/fish/vendor_completions.d",
        ],
    );
    assert_eq!(tree(&dest), want);
    assert_same_contents(
        &dest.join("usr/local/bin/nstools"),
        Path::new(env!("CARGO_BIN_EXE_nstools")),
    );
    assert_same_contents(
        &dest.join("usr/local/share/man/man1/unshare.1"),
        &root().join("man/unshare.1"),
    );
    assert_same_contents(
        &dest.join("usr/local/share/bash-completion/completions/unshare"),
        &root().join("completions/bash/unshare"),
    );
    // The installed links run the installed binary as their applet.
    let mut cmd = Command::new(dest.join("usr/local/bin/unshare"));
    cmd.args(["-r", "id", "-u"]);
    assert_eq!(run_command(cmd, TIMEOUT).assert_ok().stdout, "0\n");

    // Installing again over an installation is fine and changes nothing.
    make(&["install", &destdir]).assert_ok();
    assert_eq!(tree(&dest), want);

    make(&["uninstall", &destdir]).assert_ok();
    let left = tree(&dest);
    assert!(left.is_empty(), "uninstall left {left:?}");
    let _ = std::fs::remove_dir_all(&dest);
}

#[test]
fn install_honours_every_directory_variable() {
    let dest = scratch("destdir-vars");
    let vars = [
        format!("DESTDIR={}", dest.display()),
        "PREFIX=/opt/nst".to_string(),
        "BINDIR=/opt/nst/sbin".to_string(),
        "MANDIR=/opt/man".to_string(),
        "BASHCOMPDIR=/etc/bash_completion.d".to_string(),
        "ZSHCOMPDIR=/opt/zsh".to_string(),
        "FISHCOMPDIR=/opt/fish".to_string(),
    ];
    let mut args: Vec<&str> = vec!["install"];
    args.extend(vars.iter().map(String::as_str));
    make(&args).assert_ok();
    assert_eq!(
        tree(&dest),
        expected(
            "opt/nst/sbin",
            "opt/man",
            ["etc/bash_completion.d", "opt/zsh", "opt/fish"]
        )
    );
    args[0] = "uninstall";
    make(&args).assert_ok();
    let left = tree(&dest);
    assert!(left.is_empty(), "uninstall left {left:?}");
    let _ = std::fs::remove_dir_all(&dest);
}

#[test]
fn uninstall_keeps_a_file_that_is_not_our_link() {
    let dest = scratch("destdir-foreign");
    let destdir = format!("DESTDIR={}", dest.display());
    make(&["install", &destdir]).assert_ok();
    // Someone replaced our unshare link with their own program.
    let unshare = dest.join("usr/local/bin/unshare");
    std::fs::remove_file(&unshare).unwrap();
    std::fs::write(&unshare, "#!/bin/sh\n").unwrap();
    make(&["uninstall", &destdir]).assert_ok();
    let left = tree(&dest);
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        ["usr/local/bin/unshare"],
        "{left:?}"
    );
    let _ = std::fs::remove_dir_all(&dest);
}

#[test]
fn install_setuid_adds_privileged_mappers_and_uninstall_removes_only_ours() {
    let dest = scratch("destdir-setuid");
    let destdir = format!("DESTDIR={}", dest.display());
    make(&["install", &destdir]).assert_ok();
    make(&["install-setuid", &destdir]).assert_ok();
    let tree_now = tree(&dest);
    for m in ["newuidmap", "newgidmap"] {
        assert_eq!(
            tree_now
                .get(&format!("usr/local/bin/{m}"))
                .map(String::as_str),
            Some("file 4755"),
            "{tree_now:?}"
        );
        let meta = std::fs::metadata(dest.join("usr/local/bin").join(m)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{m} must belong to root");
    }
    make(&["uninstall", &destdir]).assert_ok();
    let left = tree(&dest);
    assert!(left.is_empty(), "uninstall left {left:?}");

    // With file capabilities instead of setuid, each copy carries only its own.
    make(&["install-setuid", "FCAPS=1", &destdir]).assert_ok();
    for (m, cap) in [("newuidmap", "cap_setuid"), ("newgidmap", "cap_setgid")] {
        let path = dest.join("usr/local/bin").join(m);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{m}");
        let out = Command::new("getcap").arg(&path).output().unwrap();
        let caps = String::from_utf8_lossy(&out.stdout);
        assert!(caps.contains(&format!("{cap}=ep")), "{m}: {caps}");
    }
    // A mapper that is not ours (shadow's, say) survives uninstall.
    let foreign = dest.join("usr/local/bin/newgidmap");
    std::fs::remove_file(&foreign).unwrap();
    std::fs::write(&foreign, "#!/bin/sh\n").unwrap();
    make(&["uninstall", &destdir]).assert_ok();
    let left = tree(&dest);
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        ["usr/local/bin/newgidmap"],
        "{left:?}"
    );
    let _ = std::fs::remove_dir_all(&dest);
}
