//! /proc/PID/mountinfo text: never a panic; every line accepted decodes,
//! prints tags that parse back to the same record, and the tree built over
//! the table visits each mount at most once; following peer groups ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::mount::{parse_mountinfo, parse_mountinfo_line, reach, MountTree, Relation};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Ok(m) = parse_mountinfo_line(line) {
            let _ = (m.root.decode(), m.mount_point.decode(), m.source.decode());
            assert!(m.mount_point.bytes().count() <= m.mount_point.raw().len());
            // The tags printed back parse to the same record.
            let mut tags = Vec::new();
            m.propagation.write_tags(&mut tags);
            let mut again = b"1 1 0:0 / / rw ".to_vec();
            if tags != b"private" {
                again.extend(tags.iter().map(|&b| if b == b',' { b' ' } else { b }));
                again.push(b' ');
            }
            again.extend_from_slice(b"- t s o");
            assert_eq!(
                parse_mountinfo_line(&again).unwrap().propagation,
                m.propagation
            );
        }
    }
    if let Ok(mounts) = parse_mountinfo(data, "fuzz") {
        let tree = MountTree::build(&mounts, None);
        let mut seen = vec![false; mounts.len()];
        tree.walk(|i, _| {
            assert!(!seen[i]);
            seen[i] = true;
        });
        // Following peer groups ends, starts with the mount itself and
        // lists no mount twice.
        if !mounts.is_empty() {
            let found = reach(&[&mounts[..]], (0, 0));
            assert_eq!(found[0], (Relation::Own, (0, 0)));
            let mut at: Vec<_> = found.iter().map(|(_, at)| *at).collect();
            at.sort();
            at.dedup();
            assert_eq!(at.len(), found.len());
        }
    }
});
