//! The PATH search a spawned child makes (execvp's, done beforehand):
//! never a panic; a file with a slash is its own only candidate; otherwise
//! one candidate per PATH element, each that element, a slash unless it is
//! empty, and the file, no longer than PATH_MAX.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::process::exec_candidates_on;

fuzz_target!(|data: &[u8]| {
    // The first line is the file, the rest (if any) PATH.
    let (file, path) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let (candidates, searched, refused) = exec_candidates_on(file, path);
    if refused.is_some() {
        assert!(candidates.is_empty());
        return;
    }
    if file.contains(&b'/') {
        assert!(!searched);
        assert_eq!(candidates.len(), 1);
        assert_eq!(candidates[0].as_bytes(), file);
        return;
    }
    assert!(searched);
    let path = path.unwrap_or(b"/bin:/usr/bin");
    assert_eq!(candidates.len(), path.split(|&b| b == b':').count());
    for (c, dir) in candidates.iter().zip(path.split(|&b| b == b':')) {
        let c = c.as_bytes();
        assert!(c.len() < 4096);
        assert!(c.starts_with(dir) && c.ends_with(file));
        let sep = usize::from(!dir.is_empty());
        assert_eq!(c.len(), dir.len() + sep + file.len());
    }
});
