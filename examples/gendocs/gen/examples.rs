//! Examples: the ```console blocks of the page sources and the README,
//! each a list of `$ command` lines with the output they show.

use std::path::Path;

use super::source::parse_directives;

/// One ```console block: its commands, each with the output it shows.
#[derive(Debug, Clone)]
pub struct Example {
    /// Where it is, for messages: `man/src/unshare.md:120`.
    pub origin: String,
    /// Run the commands as uid 65534 (`<!-- example: as=nobody -->`).
    pub as_nobody: bool,
    /// Shell lines run first, as root, output not checked.
    pub setup: Vec<String>,
    pub steps: Vec<Step>,
}

/// `$ command` and the lines it prints (stdout and stderr together).
#[derive(Debug, Clone)]
pub struct Step {
    pub command: String,
    pub expected: Vec<String>,
}

/// The examples of a markdown text (a page source or the README).
pub fn examples_of(origin: &Path, text: &str) -> Result<Vec<Example>, String> {
    let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(n, l)| (n + 1, l)).collect();
    // The README has no front matter and free-form markdown: take only the
    // fenced blocks and the directives right before them.
    let mut out = Vec::new();
    let mut directives = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = lines[i];
        i += 1;
        if let Some(d) = line
            .trim()
            .strip_prefix("<!-- example:")
            .and_then(|d| d.strip_suffix("-->"))
        {
            directives =
                parse_directives(d).map_err(|e| format!("{}:{n}: {e}", origin.display()))?;
            continue;
        }
        if let Some(fence) = line.strip_prefix("```") {
            let start = i;
            while i < lines.len() && lines[i].1 != "```" {
                i += 1;
            }
            let body: Vec<String> = lines[start..i].iter().map(|(_, l)| l.to_string()).collect();
            i += 1;
            if fence.trim() == "console" {
                let origin = format!("{}:{n}", origin.display());
                out.push(example_from(
                    origin,
                    &body,
                    &std::mem::take(&mut directives),
                )?);
            }
            directives.clear();
        } else if !line.trim().is_empty() {
            directives.clear();
        }
    }
    Ok(out)
}

fn example_from(
    origin: String,
    body: &[String],
    directives: &[(String, String)],
) -> Result<Example, String> {
    let mut steps: Vec<Step> = Vec::new();
    for line in body {
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.clone());
        } else {
            return Err(format!(
                "{origin}: a console block must start with a '$ ' command line"
            ));
        }
    }
    if steps.is_empty() {
        return Err(format!("{origin}: a console block without a '$ ' command"));
    }
    Ok(Example {
        origin,
        as_nobody: directives.iter().any(|(k, v)| k == "as" && v == "nobody"),
        setup: directives
            .iter()
            .filter(|(k, _)| k == "setup")
            .map(|(_, v)| v.clone())
            .collect(),
        steps,
    })
}

/// Does `actual` show what `expected` says? A line `...` stands for any
/// number of lines, `[..]` inside a line for any text.
pub fn output_matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => match actual.split_first() {
            Some((a, arest)) => line_matches(e, a) && output_matches(rest, arest),
            None => false,
        },
    }
}

fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}
