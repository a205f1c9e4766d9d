//! passwd/group lines and nsswitch.conf text, as read from /etc: never a
//! panic, and an id (and a passwd line's group) is given only to the
//! line's own name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::userdb::{id_in_line, name_in_line, passwd_fields, services_beyond_files};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, rest) = text.split_once('\n').unwrap_or((text, ""));
    for line in rest.lines() {
        if let Some(id) = id_in_line(line, name) {
            assert!(line.starts_with(&format!("{name}:")));
            assert_ne!(id, u32::MAX);
            assert_eq!(name_in_line(line, id), (!name.is_empty()).then_some(name));
            if let Some((pw_name, gid)) = passwd_fields(line, id) {
                assert_eq!(pw_name, name);
                assert_ne!(gid, u32::MAX);
            }
        }
    }
    let _ = services_beyond_files(rest, name);
    let _ = services_beyond_files(rest, "passwd");
});
