//! The applet table: each command's name, its clap definition (built only
//! for the applet that runs) and its run function.

use anyhow::Result;
use clap::{ArgMatches, Command};

use crate::sys::process::Exit;

pub mod getopt;
pub mod mkmap;
pub mod mountprop;
pub mod netns;
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
    pub run: fn(&mut ArgMatches) -> Result<Exit>,
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
    Applet {
        name: "mountprop",
        about: "see and change mount propagation, and where mount events travel",
        command: mountprop::command,
        run: mountprop::run,
        failure_status: 1,
    },
    Applet {
        name: "mkmap",
        about: "write, show and check user-namespace id maps",
        command: mkmap::command,
        run: mkmap::run,
        failure_status: 1,
    },
    Applet {
        name: "newuidmap",
        about: "write a uid map within /etc/subuid (shadow's, stricter)",
        command: mkmap::newuidmap_command,
        run: mkmap::newuidmap_run,
        failure_status: 1,
    },
    Applet {
        name: "newgidmap",
        about: "write a gid map within /etc/subgid (shadow's, stricter)",
        command: mkmap::newgidmap_command,
        run: mkmap::newgidmap_run,
        failure_status: 1,
    },
    Applet {
        name: "netns",
        about: "named network namespaces (as ip netns) and the wiring between them",
        command: netns::command,
        run: netns::run,
        failure_status: 1,
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

/// Check a parsed command line as the applet's `run` would, without acting
/// on it: nothing is opened, created or executed (the fuzzer's entry).
pub fn validate(name: &str, m: &ArgMatches) -> Result<()> {
    match name {
        "unshare" => unshare::validate(m),
        "nsenter" => nsenter::validate(m),
        "setns-run" => setns_run::validate(m),
        "mountprop" => mountprop::validate(m),
        "mkmap" => mkmap::validate(m),
        "newuidmap" | "newgidmap" => mkmap::validate_mapper(m),
        "netns" => netns::validate(m),
        _ => Ok(()),
    }
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
        "nsenter" => getopt::attached_values(
            args,
            nsenter::OPTIONAL_VALUE,
            nsenter::REQUIRED_VALUE,
            nsenter::REQUIRED_LONG,
        ),
        _ => args,
    }
}
