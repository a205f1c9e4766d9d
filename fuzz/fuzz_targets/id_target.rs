#![no_main]
//! Targets (PID, pid:PID, fd:N): never panics, never a PID 0 or below.
use libfuzzer_sys::fuzz_target;
use nstools::sys::idmap::TargetSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match TargetSpec::parse(text) {
        Ok(TargetSpec::Pid(p)) => assert!(p > 0),
        Ok(TargetSpec::Fd(f)) => assert!(f >= 0),
        Err(_) => {}
    }
});
