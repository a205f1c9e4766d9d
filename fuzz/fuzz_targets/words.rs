//! The small words of the command lines: numeric ids (`-S`/`-G`),
//! namespace kinds and propagation modes. Never a panic; an id is never
//! -1 (u32::MAX, "unchanged" to setresuid(2)) and is the number written;
//! a kind or mode prints back to a word that parses to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::creds::parse_numeric_id;
use nstools::sys::mount::Propagation;
use nstools::sys::ns::NsKind;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = parse_numeric_id(text, "uid") {
        assert_ne!(id, u32::MAX);
        assert_eq!(text.parse::<u64>().ok(), Some(id as u64));
    }
    if let Some(kind) = NsKind::parse(text) {
        assert_eq!(NsKind::parse(kind.proc_name()), Some(kind));
    }
    if let Some(p) = Propagation::parse(text) {
        assert_eq!(Propagation::parse(p.word()), Some(p));
    }
});
