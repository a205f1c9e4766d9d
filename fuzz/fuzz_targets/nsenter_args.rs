//! nsenter's command line as getopt(3) reads it: never a panic, never a
//! word lost or added, and a second pass changes nothing.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use nstools::applets::normalize_args;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = std::iter::once(b"nsenter".to_vec())
        .chain(data.split(|b| *b == 0).map(<[u8]>::to_vec))
        .map(OsString::from_vec)
        .collect();
    let once = normalize_args("nsenter", args.clone());
    assert_eq!(once.len(), args.len());
    assert_eq!(normalize_args("nsenter", once.clone()), once);
});
