#![no_main]
//! Mappings as words (INSIDE:OUTSIDE:COUNT or triplets): never panics; a
//! map that validates has no range past 2^32-1 and round-trips its text.
use libfuzzer_sys::fuzz_target;
use nstools::sys::idmap::{parse_mapping, parse_proc_map, IdMap, MAX_RANGES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let words: Vec<&str> = text.split(' ').collect();
    if let Ok(ranges) = parse_mapping(&words) {
        if let Ok(map) = IdMap::new(ranges) {
            assert!(map.ranges().len() <= MAX_RANGES);
            let back = parse_proc_map(&map.to_kernel_text()).unwrap();
            assert_eq!(back, map.ranges());
        }
    }
});
