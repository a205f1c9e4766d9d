//! Time-namespace offsets: never a panic; nanoseconds always in 0..1e9.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::timens::parse_offset;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(off) = parse_offset(text) {
        assert!(off.nanos < 1_000_000_000);
    }
});
