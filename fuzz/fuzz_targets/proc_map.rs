#![no_main]
//! /proc/PID/uid_map as the kernel prints it: never panics.
use libfuzzer_sys::fuzz_target;
use nstools::sys::idmap::{parse_proc_map, MAX_RANGES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ranges) = parse_proc_map(text) {
        assert!(ranges.len() <= MAX_RANGES);
    }
});
