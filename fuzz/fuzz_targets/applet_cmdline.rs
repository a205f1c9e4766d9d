//! The whole command line of each applet: the first byte picks the applet,
//! the rest is its arguments (NUL-separated). Parsed as main parses it
//! (getopt normalization, then clap), then checked by the applet's own
//! validation, which acts on nothing. Never a panic, never a word lost by
//! the normalization, and an accepted line still validates the same way
//! when parsed again.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use nstools::applets::{normalize_args, validate, APPLETS};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let applet = &APPLETS[pick as usize % APPLETS.len()];
    let mut args = vec![OsString::from(applet.name)];
    if !rest.is_empty() {
        args.extend(
            rest.split(|&b| b == 0)
                .map(|w| OsString::from_vec(w.to_vec())),
        );
    }
    let words = args.len();
    let args = normalize_args(applet.name, args);
    assert_eq!(args.len(), words);
    let command = (applet.command)().name(applet.name).bin_name(applet.name);
    let Ok(matches) = command.clone().try_get_matches_from(&args) else {
        return;
    };
    let first = validate(applet.name, &matches).is_ok();
    let again = command
        .try_get_matches_from(&args)
        .expect("parsed once, parses again");
    assert_eq!(validate(applet.name, &again).is_ok(), first);
});
