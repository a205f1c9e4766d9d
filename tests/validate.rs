//! Each applet's `validate` (the fuzzer's entry) refuses what the applet
//! itself refuses, with the same message, and accepts what it would act on:
//! the fuzzer then explores the real checks, not a copy that drifted.

mod common;

use std::ffi::OsString;

use common::*;
use nstools::applets::{self, normalize_args};

/// Parse a command line as main does and validate it: the error's text.
fn validate(applet: &str, args: &[&str]) -> Result<(), String> {
    let a = applets::find(applet).unwrap();
    let mut words: Vec<OsString> = vec![applet.into()];
    words.extend(args.iter().map(OsString::from));
    let m = (a.command)()
        .name(a.name)
        .try_get_matches_from(normalize_args(applet, words))
        .map_err(|e| format!("clap: {e}"))?;
    applets::validate(applet, &m).map_err(|e| format!("{e:#}"))
}

#[test]
fn validate_refuses_what_the_applet_refuses_in_the_same_words() {
    let refused: &[(&str, &[&str])] = &[
        ("unshare", &["--kill-child=NOPE", "true"]),
        ("unshare", &["--owner=1000", "true"]),
        ("unshare", &["--map-users=0:1", "true"]),
        ("unshare", &["--monotonic=5", "true"]),
        ("unshare", &["-S", "-1", "true"]),
        ("nsenter", &["--wd=/", "--wdns=/", "true"]),
        ("nsenter", &["--all", "true"]),
        ("nsenter", &["-t", "0", "-n", "true"]),
        ("nsenter", &["-t", "1", "--net=:x", "true"]),
        ("setns-run", &["-S", "x", "1", "--", "true"]),
        ("setns-run", &["0", "--", "true"]),
        ("setns-run", &["1:0", "--", "true"]),
        ("mountprop", &["-o", "nosuch"]),
        ("mountprop", &["set", "sideways", "/"]),
        ("mkmap", &["uid", "1"]),
        ("mkmap", &["uid", "pid:x", "0:0:1"]),
        ("mkmap", &["check", "uid", "0:0:1", "0:1:1"]),
        ("newuidmap", &["1", "0", "0"]),
        ("newuidmap", &["1", "0:0:1", "1", "1"]),
        ("newgidmap", &["fd:x", "0", "0", "1"]),
        ("netns", &["add", "a/b"]),
        ("netns", &["set", "x", "-5"]),
        ("netns", &["attach", "x", "0"]),
        ("netns", &["link", "a", "b", "--addr", "10.0.0.1/24"]),
        ("netns", &["link", "a", "b", "--mtu", "10"]),
        ("netns", &["route", "a", "10.0.0.0/8", "via", "fe80::1"]),
        ("netns", &["route", "a", "default"]),
        ("netns", &["list-id", "nsid", "x"]),
        ("netns", &["bridge", "hub", "--subnet", "10.0.0.0/24", "a"]),
        ("netns", &["exec", "a/b", "true"]),
        ("netns", &["exec", "a"]),
    ];
    for &(applet, args) in refused {
        let why = validate(applet, args)
            .err()
            .unwrap_or_else(|| panic!("{applet} {args:?}: validate accepted it"));
        let r = run(applet, args);
        assert!(!r.ok(), "{applet} {args:?}: the applet accepted it: {r:?}");
        if why.starts_with("clap: ") {
            // Refused by clap itself: main words those messages.
            continue;
        }
        let first = r.stderr.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("{applet}: {}", why.lines().next().unwrap()),
            "{applet} {args:?}"
        );
    }
}

#[test]
fn validate_accepts_what_the_applet_would_act_on() {
    let accepted: &[(&str, &[&str])] = &[
        ("unshare", &["-rmpf", "--mount-proc", "true"]),
        (
            "unshare",
            &["--map-users=0:100000:65536", "-T", "--monotonic=5", "true"],
        ),
        ("nsenter", &["-t", "1", "-a", "-S", "follow", "true"]),
        ("setns-run", &["--dry-run", "1", "/proc/1/ns/net"]),
        ("mountprop", &["list", "-o", "+id"]),
        ("mountprop", &["set", "slave", "/nonexistent"]),
        ("mkmap", &["uid", "fd:3", "0:100000:10", "10", "1000", "1"]),
        ("newuidmap", &["1", "0", "100000", "10"]),
        ("netns", &["add", "a", "b"]),
        ("netns", &["delete", "-all"]),
        (
            "netns",
            &[
                "link",
                "a:x",
                "pid:1:y",
                "--addr",
                "10.0.0.1/24,10.0.0.2/24",
            ],
        ),
        (
            "netns",
            &["route", "a", "default", "via", "10.0.0.1", "dev", "eth0"],
        ),
        ("netns", &["exec", "--all", "true"]),
    ];
    for &(applet, args) in accepted {
        assert_eq!(validate(applet, args), Ok(()), "{applet} {args:?}");
    }
}
