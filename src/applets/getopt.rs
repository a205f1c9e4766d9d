//! Command lines as getopt(3) reads them, for the applets whose users
//! write options the util-linux way.

/// Rewrite `-xVALUE` into `-x=VALUE` for the short options in `optional`,
/// reading clusters as getopt(3) does (a letter in `required` takes the
/// rest of its word, or the next word, as its value; so do the long options
/// in `required_long` written without `=`), and stopping at `--` or at the
/// first word that is not an option, as util-linux's `+` optstrings do.
pub fn attached_values(
    args: Vec<std::ffi::OsString>,
    optional: &str,
    required: &str,
    required_long: &[&str],
) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut words = args.into_iter();
    if let Some(argv0) = words.next() {
        out.push(argv0);
    }
    let mut skip_value = false;
    while let Some(word) = words.next() {
        let bytes = {
            use std::os::unix::ffi::OsStrExt;
            word.as_bytes().to_vec()
        };
        if skip_value {
            skip_value = false;
            out.push(word);
            continue;
        }
        if bytes == b"--" || bytes.len() < 2 || bytes[0] != b'-' {
            out.push(word);
            out.extend(words);
            break;
        }
        if bytes.starts_with(b"--") {
            skip_value = required_long
                .iter()
                .any(|l| l.as_bytes() == bytes.as_slice());
            out.push(word);
            continue;
        }
        let mut i = 1;
        let mut rewritten = None;
        while i < bytes.len() {
            let c = bytes[i] as char;
            if required.contains(c) {
                skip_value = i + 1 == bytes.len();
                break;
            }
            if optional.contains(c) {
                if i + 1 < bytes.len() && bytes[i + 1] != b'=' {
                    let mut w = bytes[..=i].to_vec();
                    w.push(b'=');
                    w.extend_from_slice(&bytes[i + 1..]);
                    use std::os::unix::ffi::OsStringExt;
                    rewritten = Some(std::ffi::OsString::from_vec(w));
                }
                break;
            }
            i += 1;
        }
        out.push(rewritten.unwrap_or(word));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::normalize_args;

    fn norm(words: &[&str]) -> Vec<String> {
        let args = std::iter::once("nsenter")
            .chain(words.iter().copied())
            .map(std::ffi::OsString::from)
            .collect();
        normalize_args("nsenter", args)
            .into_iter()
            .skip(1)
            .map(|w| w.into_string().unwrap())
            .collect()
    }

    #[test]
    fn attached_optional_values_are_read_as_getopt_does() {
        assert_eq!(norm(&["-n/run/netns/a", "ip"]), ["-n=/run/netns/a", "ip"]);
        assert_eq!(
            norm(&["-t", "1", "-aw/srv", "ls", "-w/x"]),
            ["-t", "1", "-aw=/srv", "ls", "-w/x"]
        );
        assert_eq!(
            norm(&["-t1", "-m", "-u", "pwd"]),
            ["-t1", "-m", "-u", "pwd"]
        );
        assert_eq!(
            norm(&["--target", "1", "-n/f", "true"]),
            ["--target", "1", "-n=/f", "true"]
        );
        assert_eq!(norm(&["-S", "-n/x", "-n/y"]), ["-S", "-n/x", "-n=/y"]);
        assert_eq!(norm(&["-n=/f", "--", "-n/f"]), ["-n=/f", "--", "-n/f"]);
        assert_eq!(norm(&["-W/a", "-n/b"]), ["-W/a", "-n=/b"]);
    }
}
