//! `INSIDE:OUTSIDE:COUNT` ranges and whole maps built from them: never a
//! panic, and anything accepted is a valid map the kernel would take.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::idmap::{parse_range, IdMap};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut ranges = Vec::new();
    for spec in text.split(',') {
        if let Ok(r) = parse_range(spec) {
            assert!(r.count >= 1);
            assert!(r.inside as u64 + r.count as u64 <= u32::MAX as u64);
            assert!(r.outside as u64 + r.count as u64 <= u32::MAX as u64);
            assert_eq!(parse_range(&r.to_string()), Ok(r));
            ranges.push(r);
        }
    }
    if let Ok(map) = IdMap::new(ranges) {
        assert_eq!(map.to_kernel_text().lines().count(), map.ranges().len());
    }
});
