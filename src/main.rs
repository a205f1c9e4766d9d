//! The multicall entry point: pick the applet by argv[0] (or by the first
//! word after `nstools`), parse its command line, run it, and turn the
//! result into messages and an exit status.
//!
//! `no_main`: the C runtime calls our `main` directly, without Rust's
//! start-up (which would ignore SIGPIPE, a disposition every program we exec
//! would inherit, and read /proc/self/maps to place a stack guard). The
//! arguments still come from `std::env::args_os`.

#![no_main]

use std::ffi::{OsStr, OsString};
use std::path::Path;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use nstools::applets::{self, Applet};
use nstools::sys::creds;
use nstools::sys::process::{self, ExecError, Exit};

const MULTICALL: &str = "nstools";

#[no_mangle]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked = args.first().map(|a| basename(a)).unwrap_or_default();
    let applet = match applets::find(&invoked) {
        Some(applet) => applet,
        None if !invoked.starts_with(MULTICALL) => {
            eprintln!("{MULTICALL}: '{invoked}' is not an applet of this build (see '{MULTICALL} --list')");
            std::process::exit(1)
        }
        None => {
            // Started as `nstools` (or a renamed copy such as `nstools-1.0`):
            // the applet is the first word.
            let word = args.get(1).map(|a| a.to_string_lossy().into_owned());
            match word.as_deref() {
                None | Some("-h") | Some("--help") => {
                    print!("{}", multicall_help());
                    std::process::exit(0)
                }
                Some("-V") | Some("--version") => {
                    println!("{MULTICALL} {}", env!("CARGO_PKG_VERSION"));
                    std::process::exit(0)
                }
                Some("-l") | Some("--list") => {
                    for a in applets::APPLETS {
                        println!("{}", a.name);
                    }
                    std::process::exit(0)
                }
                Some(name) => match applets::find(name) {
                    Some(applet) => {
                        args.remove(0);
                        applet
                    }
                    None => {
                        eprintln!(
                            "{MULTICALL}: '{name}' is not an applet (see '{MULTICALL} --list')"
                        );
                        std::process::exit(1)
                    }
                },
            }
        }
    };
    if creds::is_raised() && !applets::allowed_when_raised(applet.name) {
        eprintln!(
            "{}: refusing to run with raised privileges (setuid or file capabilities): \
             only newuidmap and newgidmap may be installed that way",
            applet.name
        );
        std::process::exit(1)
    }
    process::exit_like(run(applet, args))
}

fn run(applet: &Applet, args: Vec<OsString>) -> Exit {
    let mut command = (applet.command)().name(applet.name).bin_name(applet.name);
    let last = args.last().map(|a| a.to_string_lossy().into_owned());
    let parsed = command.try_get_matches_from_mut(applets::normalize_args(applet.name, args));
    // The process ends soon, most often in exec(2): taking the definition
    // apart piece by piece would be a tenth of the instructions the start-up
    // runs (callgrind), for memory the kernel takes back anyway.
    std::mem::forget(command);
    let mut matches = match parsed {
        Ok(m) => m,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return Exit::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}: {}", applet.name, usage_message(&e, last.as_deref()));
            eprintln!("Try '{} --help' for more information.", applet.name);
            return Exit::Code(applet.failure_status);
        }
    };
    match (applet.run)(&mut matches) {
        Ok(exit) => exit,
        Err(err) => {
            if let Some(exec) = err.downcast_ref::<ExecError>() {
                eprintln!("{}: {exec}", applet.name);
                return Exit::Code(exec.exit_code());
            }
            eprintln!("{}: {err:#}", applet.name);
            if err.downcast_ref::<applets::UsageError>().is_some() {
                eprintln!("Try '{} --help' for more information.", applet.name);
            }
            Exit::Code(applet.failure_status)
        }
    }
}

/// clap's error as util-linux words it: one line, no colours, no usage dump.
/// `last` is the last word of the command line, where an option that lacks
/// its value stands.
fn usage_message(e: &clap::Error, last: Option<&str>) -> String {
    let ctx = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        _ => String::new(),
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = ctx(ContextKind::InvalidArg);
            match arg.strip_prefix('-') {
                // getopt's words: a short option by its letter, a long one whole.
                Some(letter) if letter.chars().count() == 1 && letter != "-" => {
                    format!("invalid option -- '{letter}'")
                }
                _ => format!("unrecognized option '{arg}'"),
            }
        }
        ErrorKind::InvalidValue
            if ctx(ContextKind::InvalidValue).is_empty()
                && last.is_some_and(|l| l.starts_with('-') && !l.contains('=')) =>
        {
            // The option ended the command line without its value.
            let last = last.unwrap_or_default();
            match last.strip_prefix("--") {
                Some(_) => format!("option '{last}' requires an argument"),
                None => format!(
                    "option requires an argument -- '{}'",
                    last.chars().last().unwrap_or('?')
                ),
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = ctx(ContextKind::InvalidArg);
            let arg = arg
                .split(['=', ' ', '<', '['])
                .next()
                .unwrap_or("")
                .trim_end_matches(',')
                .to_string();
            let mut msg = format!(
                "invalid argument '{}' for '{arg}'",
                ctx(ContextKind::InvalidValue)
            );
            let valid = ctx(ContextKind::ValidValue);
            if !valid.is_empty() {
                msg.push_str(&format!(" (expected one of: {valid})"));
            }
            if let Some(source) = std::error::Error::source(e) {
                msg.push_str(&format!(": {source}"));
            }
            msg
        }
        ErrorKind::MissingRequiredArgument => {
            format!("missing argument: {}", ctx(ContextKind::InvalidArg))
        }
        ErrorKind::ArgumentConflict => format!(
            "options {} and {} are mutually exclusive",
            ctx(ContextKind::InvalidArg),
            ctx(ContextKind::PriorArg)
        ),
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid usage");
            first.trim_start_matches("error: ").to_string()
        }
    }
}

fn multicall_help() -> String {
    let mut text = format!(
        "Usage: {MULTICALL} APPLET [ARGS...]\n       APPLET [ARGS...]   (through a symlink named after the applet)\n\n\
         The Linux namespace toolbox in one binary.\n\nApplets:\n"
    );
    for a in applets::APPLETS {
        text.push_str(&format!("  {:<12}{}\n", a.name, a.about));
    }
    text.push_str(&format!(
        "\nOptions:\n  -l, --list     print the applets, one per line\n  -h, --help     print this help\n  -V, --version  print the version\n\n\
         Run '{MULTICALL} APPLET --help' for an applet's options.\n"
    ));
    text
}

fn basename(arg: &OsStr) -> String {
    Path::new(arg)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
