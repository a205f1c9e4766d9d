//! Time namespaces: offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME.
//!
//! time_namespaces(7): offsets are written to `/proc/self/timens_offsets`
//! after unshare(CLONE_NEWTIME) and before the first process enters.

use super::{Error, OsContext, Result};

/// An offset of a clock: whole seconds and nanoseconds in 0..1e9.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Offset {
    pub secs: i64,
    pub nanos: u32,
}

/// The offsets to write; `None` leaves a clock as it is.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    pub monotonic: Option<Offset>,
    pub boottime: Option<Offset>,
}

impl Offsets {
    pub fn is_empty(&self) -> bool {
        self.monotonic.is_none() && self.boottime.is_none()
    }

    /// The text the kernel takes: `CLOCK SECS NANOS` per line.
    pub fn to_kernel_text(&self) -> String {
        let mut s = String::new();
        for (name, off) in [("monotonic", self.monotonic), ("boottime", self.boottime)] {
            if let Some(o) = off {
                s.push_str(&format!("{name} {} {}\n", o.secs, o.nanos));
            }
        }
        s
    }
}

/// Parse seconds as `N`, `-N`, or with a fraction `N.FFF` (up to 9 digits).
pub fn parse_offset(word: &str) -> Result<Offset> {
    let bad = || Error::invalid(format!("'{word}'"), "expected seconds, e.g. 100 or -2.5");
    let (neg, digits) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word.strip_prefix('+').unwrap_or(word)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: i64 = whole.parse().map_err(|_| bad())?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(match (neg, nanos) {
        (false, _) => Offset { secs, nanos },
        (true, 0) => Offset {
            secs: -secs,
            nanos: 0,
        },
        // -2.5 s is -3 s plus 0.5 s: the kernel wants nanos in 0..1e9.
        (true, n) => Offset {
            secs: -secs - 1,
            nanos: 1_000_000_000 - n,
        },
    })
}

/// Write offsets for the time namespace our children will enter.
pub fn set_offsets(offsets: &Offsets) -> Result<()> {
    std::fs::write("/proc/self/timens_offsets", offsets.to_kernel_text())
        .what(|| "failed to write to /proc/self/timens_offsets".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_whole_fractional_and_negative() {
        assert_eq!(
            parse_offset("100").unwrap(),
            Offset {
                secs: 100,
                nanos: 0
            }
        );
        assert_eq!(parse_offset("-7").unwrap(), Offset { secs: -7, nanos: 0 });
        assert_eq!(
            parse_offset("1.5").unwrap(),
            Offset {
                secs: 1,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            parse_offset("-2.5").unwrap(),
            Offset {
                secs: -3,
                nanos: 500_000_000
            }
        );
        for bad in ["", "-", "x", "1.2.3", "1.0000000001", "1e3", " 1"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kernel_text_names_each_clock() {
        let o = Offsets {
            monotonic: Some(Offset {
                secs: 100,
                nanos: 0,
            }),
            boottime: Some(Offset { secs: 5, nanos: 1 }),
        };
        assert_eq!(o.to_kernel_text(), "monotonic 100 0\nboottime 5 1\n");
    }
}
