//! The applet table: each command's name, its clap definition (built only
//! for the applet that runs) and its run function.

use anyhow::Result;
use clap::{ArgMatches, Command};

use crate::sys::process::Exit;

pub mod nsenter;
pub mod setns_run;
pub mod unshare;

/// One command of the multicall binary.
pub struct Applet {
    pub name: &'static str,
    /// One line for `nstools --help`.
    pub about: &'static str,
    /// The clap definition, built on demand.
    pub command: fn() -> Command,
    /// The story of the command.
    pub run: fn(&ArgMatches) -> Result<Exit>,
    /// The exit status of the tool's own failures and usage errors.
    pub failure_status: i32,
}

pub static APPLETS: &[Applet] = &[
    Applet {
        name: "unshare",
        about: "run a program in new namespaces",
        command: unshare::command,
        run: unshare::run,
        failure_status: 1,
    },
    Applet {
        name: "nsenter",
        about: "run a program in the namespaces of another process",
        command: nsenter::command,
        run: nsenter::run,
        failure_status: 1,
    },
    Applet {
        name: "setns-run",
        about: "run a program in the namespaces of files or processes",
        command: setns_run::command,
        run: setns_run::run,
        failure_status: 125,
    },
];

/// The applet called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Applet> {
    APPLETS.iter().find(|a| a.name == name)
}

/// Applets that may run with raised privileges (setuid or file
/// capabilities): only the id-map helpers, which drop them at once.
pub fn allowed_when_raised(name: &str) -> bool {
    matches!(name, "newuidmap" | "newgidmap")
}

/// A usage error found after parsing (a bad combination, a bad value):
/// printed with the `Try '... --help'` hint.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Return a usage error from an applet.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::applets::UsageError(format!($($arg)*))))
    };
}

/// The command line as clap should see it. util-linux parses with
/// getopt(3), where a short option with an optional value takes it only
/// attached (`-mFILE`, `-wDIR`); clap reads those only as `-m=FILE`. Applets
/// with such options are given their getopt letters here.
pub fn normalize_args(name: &str, args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    match name {
        "nsenter" => getopt_attached(
            args,
            nsenter::OPTIONAL_VALUE,
            nsenter::REQUIRED_VALUE,
            nsenter::REQUIRED_LONG,
        ),
        _ => args,
    }
}

/// Rewrite `-xVALUE` into `-x=VALUE` for the short options in `optional`,
/// reading clusters as getopt(3) does (a letter in `required` takes the
/// rest of its word, or the next word, as its value; so do the long options
/// in `required_long` written without `=`), and stopping at `--` or at the
/// first word that is not an option, as util-linux's `+` optstrings do.
pub fn getopt_attached(
    args: Vec<std::ffi::OsString>,
    optional: &str,
    required: &str,
    required_long: &[&str],
) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut words = args.into_iter();
    if let Some(argv0) = words.next() {
        out.push(argv0);
    }
    let mut skip_value = false;
    while let Some(word) = words.next() {
        let bytes = {
            use std::os::unix::ffi::OsStrExt;
            word.as_bytes().to_vec()
        };
        if skip_value {
            skip_value = false;
            out.push(word);
            continue;
        }
        if bytes == b"--" || bytes.len() < 2 || bytes[0] != b'-' {
            out.push(word);
            out.extend(words);
            break;
        }
        if bytes.starts_with(b"--") {
            skip_value = required_long
                .iter()
                .any(|l| l.as_bytes() == bytes.as_slice());
            out.push(word);
            continue;
        }
        let mut i = 1;
        let mut rewritten = None;
        while i < bytes.len() {
            let c = bytes[i] as char;
            if required.contains(c) {
                skip_value = i + 1 == bytes.len();
                break;
            }
            if optional.contains(c) {
                if i + 1 < bytes.len() && bytes[i + 1] != b'=' {
                    let mut w = bytes[..=i].to_vec();
                    w.push(b'=');
                    w.extend_from_slice(&bytes[i + 1..]);
                    use std::os::unix::ffi::OsStringExt;
                    rewritten = Some(std::ffi::OsString::from_vec(w));
                }
                break;
            }
            i += 1;
        }
        out.push(rewritten.unwrap_or(word));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(words: &[&str]) -> Vec<String> {
        let args = std::iter::once("nsenter")
            .chain(words.iter().copied())
            .map(std::ffi::OsString::from)
            .collect();
        normalize_args("nsenter", args)
            .into_iter()
            .skip(1)
            .map(|w| w.into_string().unwrap())
            .collect()
    }

    #[test]
    fn attached_optional_values_are_read_as_getopt_does() {
        assert_eq!(norm(&["-n/run/netns/a", "ip"]), ["-n=/run/netns/a", "ip"]);
        assert_eq!(
            norm(&["-t", "1", "-aw/srv", "ls", "-w/x"]),
            ["-t", "1", "-aw=/srv", "ls", "-w/x"]
        );
        assert_eq!(
            norm(&["-t1", "-m", "-u", "pwd"]),
            ["-t1", "-m", "-u", "pwd"]
        );
        assert_eq!(
            norm(&["--target", "1", "-n/f", "true"]),
            ["--target", "1", "-n=/f", "true"]
        );
        assert_eq!(norm(&["-S", "-n/x", "-n/y"]), ["-S", "-n/x", "-n=/y"]);
        assert_eq!(norm(&["-n=/f", "--", "-n/f"]), ["-n=/f", "--", "-n/f"]);
        assert_eq!(norm(&["-W/a", "-n/b"]), ["-W/a", "-n=/b"]);
    }
}
