//! Signal names as kill(1) takes them: never a panic; a parsed signal is a
//! real one whose own name parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::process::parse_signal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(sig) = parse_signal(text) {
        assert_eq!(parse_signal(sig.as_str()), Some(sig));
        assert_eq!(parse_signal(&(sig as i32).to_string()), Some(sig));
    }
});
