#![no_main]
//! The /etc/subuid parser: never panics; every entry it keeps is a valid
//! range, and delegation lookups and spans stay in bounds.
use libfuzzer_sys::fuzz_target;
use nstools::sys::idmap::{delegated, parse_subid};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = parse_subid(text, "/etc/subuid");
    for e in &file.entries {
        assert!(e.count >= 1);
        assert!(e.start as u64 + e.count as u64 <= u32::MAX as u64);
    }
    if let Some(first) = file.entries.first() {
        let dels = file.delegations(Some(&first.owner), 1000);
        assert!(delegated(&dels, first.start, first.count));
        let _ = delegated(&dels, 0, u32::MAX);
    }
});
