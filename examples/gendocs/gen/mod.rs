//! The documentation generator: man pages and shell completions built from
//! the applet table (`nstools::applets::APPLETS`, each applet's clap
//! definition) and the hand-written `man/src/NAME.md`.
//!
//! Shared by `examples/gendocs` (which writes `man/` and `completions/`) and
//! by `tests/docs.rs` (which checks that the committed files are what this
//! generates, and runs every example the pages show). It is never part of
//! the shipped binary.
//!
//! The hand-written source is a small markdown dialect, described in
//! `man/src/README.md`.
#![allow(dead_code)]

mod complete;
mod examples;
mod man;
mod source;

// One namespace for the two users (gendocs uses less than tests/docs.rs).
#[allow(unused_imports)]
pub use {complete::*, examples::*, man::*, source::*};

use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};
use nstools::applets::APPLETS;

/// The multicall binary's own name (and page).
pub const MULTICALL: &str = "nstools";
/// The package version the pages name.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository's top directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every name that has a page source: the multicall binary, then the
/// applets in table order.
pub fn page_names() -> Vec<&'static str> {
    std::iter::once(MULTICALL)
        .chain(APPLETS.iter().map(|a| a.name))
        .collect()
}

/// The clap definition of an applet exactly as the binary builds it.
pub fn applet_command(name: &str) -> Command {
    let applet = nstools::applets::find(name).expect("an applet of the table");
    let mut cmd = (applet.command)().name(applet.name).bin_name(applet.name);
    cmd.build();
    cmd
}

/// The multicall binary as one clap command whose subcommands are the
/// applets: only for completion (the binary dispatches by hand).
pub fn multicall_command() -> Command {
    let mut cmd = Command::new(MULTICALL)
        .about("The Linux namespace toolbox in one binary")
        .disable_help_subcommand(true)
        .version(VERSION)
        .arg(
            Arg::new("list")
                .short('l')
                .long("list")
                .action(ArgAction::SetTrue)
                .help("Print the applets, one per line"),
        );
    for a in APPLETS {
        cmd = cmd.subcommand((a.command)().name(a.name).about(a.about));
    }
    cmd.build();
    cmd
}
