//! The documentation generator: man pages and shell completions built from
//! the applet table (`nstools::applets::APPLETS`, each applet's clap
//! definition) and the hand-written `man/src/NAME.md`.
//!
//! Shared by `examples/gendocs` (which writes `man/` and `completions/`) and
//! by `tests/docs.rs` (which checks that the committed files are what this
//! generates, and runs every example the pages show). It is never part of
//! the shipped binary.
//!
//! The hand-written source is a small markdown dialect, described in
//! `man/src/README.md`.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use clap_complete::Shell;
use nstools::applets::APPLETS;

/// The multicall binary's own name (and page).
pub const MULTICALL: &str = "nstools";
/// The package version the pages name.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository's top directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every name that has a page source: the multicall binary, then the
/// applets in table order.
pub fn page_names() -> Vec<&'static str> {
    std::iter::once(MULTICALL)
        .chain(APPLETS.iter().map(|a| a.name))
        .collect()
}

/// The clap definition of an applet exactly as the binary builds it.
pub fn applet_command(name: &str) -> Command {
    let applet = nstools::applets::find(name).expect("an applet of the table");
    let mut cmd = (applet.command)().name(applet.name).bin_name(applet.name);
    cmd.build();
    cmd
}

/// The multicall binary as one clap command whose subcommands are the
/// applets: only for completion (the binary dispatches by hand).
pub fn multicall_command() -> Command {
    let mut cmd = Command::new(MULTICALL)
        .about("The Linux namespace toolbox in one binary")
        .disable_help_subcommand(true)
        .version(VERSION)
        .arg(
            Arg::new("list")
                .short('l')
                .long("list")
                .action(ArgAction::SetTrue)
                .help("Print the applets, one per line"),
        );
    for a in APPLETS {
        cmd = cmd.subcommand((a.command)().name(a.name).about(a.about));
    }
    cmd.build();
    cmd
}

// ---------------------------------------------------------------------------
// The hand-written source

/// A page source `man/src/NAME.md`: front matter, then the body.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub path: PathBuf,
    /// The manual section, `1` or `8`.
    pub section: String,
    /// For a name documented on another applet's page (`newuidmap` on
    /// `mkmap`'s): that applet.
    pub alias_of: Option<String>,
    pub blocks: Vec<Block>,
}

/// One block of the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// `# TITLE`
    Section(String),
    /// `## Title`
    Subsection(String),
    /// Consecutive text lines.
    Para(String),
    /// `- item` (continued by indented lines).
    Bullet(String),
    /// `TERM` then `: definition`.
    Term(String, String),
    /// A fenced block: ```console blocks are examples, others plain code.
    Code {
        console: bool,
        lines: Vec<String>,
        directives: Vec<(String, String)>,
        line_no: usize,
    },
}

/// The path of a name's page source.
pub fn source_path(name: &str) -> PathBuf {
    root().join("man/src").join(format!("{name}.md"))
}

/// Read and parse `man/src/NAME.md`; the error names the missing file.
pub fn load_source(name: &str) -> Result<Source, String> {
    let path = source_path(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{name}: cannot read its man page source {}: {e} \
             (every applet in nstools::applets::APPLETS needs one; see man/src/README.md)",
            path.display()
        )
    })?;
    parse_source(name, &path, &text)
}

/// Parse a page source.
pub fn parse_source(name: &str, path: &Path, text: &str) -> Result<Source, String> {
    let err = |line: usize, what: &str| format!("{}:{line}: {what}", path.display());
    let mut lines = text.lines().enumerate().peekable();
    let mut section = None;
    let mut alias_of = None;
    if lines.peek().map(|(_, l)| *l) != Some("---") {
        return Err(err(1, "expected front matter starting with '---'"));
    }
    lines.next();
    loop {
        let Some((n, line)) = lines.next() else {
            return Err(err(1, "front matter is not closed by '---'"));
        };
        if line == "---" {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(err(n + 1, "expected 'key: value'"));
        };
        match (key.trim(), value.trim()) {
            ("section", v @ ("1" | "8")) => section = Some(v.to_string()),
            ("alias-of", v) => alias_of = Some(v.to_string()),
            (k, v) => return Err(err(n + 1, &format!("unknown front matter '{k}: {v}'"))),
        }
    }
    let blocks = parse_body(lines.map(|(n, l)| (n + 1, l)).collect(), &err)?;
    Ok(Source {
        name: name.to_string(),
        path: path.to_path_buf(),
        section: section
            .ok_or_else(|| err(1, "front matter needs 'section: 1' or 'section: 8'"))?,
        alias_of,
        blocks,
    })
}

fn parse_body(
    lines: Vec<(usize, &str)>,
    err: &dyn Fn(usize, &str) -> String,
) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut directives: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = lines[i];
        i += 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.trim().strip_prefix("<!--") {
            let Some(comment) = comment.strip_suffix("-->") else {
                return Err(err(n, "a comment must fit on one line"));
            };
            if let Some(d) = comment.trim().strip_prefix("example:") {
                directives = parse_directives(d).map_err(|e| err(n, &e))?;
            }
            continue;
        }
        if let Some(fence) = line.strip_prefix("```") {
            let mut body = Vec::new();
            loop {
                let Some(&(_, l)) = lines.get(i) else {
                    return Err(err(n, "code block is not closed"));
                };
                i += 1;
                if l == "```" {
                    break;
                }
                body.push(l.to_string());
            }
            blocks.push(Block::Code {
                console: fence.trim() == "console",
                lines: body,
                directives: std::mem::take(&mut directives),
                line_no: n,
            });
            continue;
        }
        if !directives.is_empty() {
            return Err(err(
                n,
                "an example directive must come right before a ```console block",
            ));
        }
        if let Some(title) = line.strip_prefix("## ") {
            blocks.push(Block::Subsection(title.trim().to_string()));
        } else if let Some(title) = line.strip_prefix("# ") {
            blocks.push(Block::Section(title.trim().to_string()));
        } else if let Some(item) = line.strip_prefix("- ") {
            let mut text = item.trim().to_string();
            while let Some(&(_, l)) = lines.get(i) {
                if !l.starts_with("  ") || l.trim().is_empty() {
                    break;
                }
                text.push('\n');
                text.push_str(l.trim());
                i += 1;
            }
            blocks.push(Block::Bullet(text));
        } else if lines.get(i).is_some_and(|(_, l)| l.starts_with(": ")) {
            let mut def = lines[i].1[2..].trim().to_string();
            i += 1;
            while let Some(&(_, l)) = lines.get(i) {
                if !l.starts_with("  ") || l.trim().is_empty() {
                    break;
                }
                def.push('\n');
                def.push_str(l.trim());
                i += 1;
            }
            blocks.push(Block::Term(line.trim().to_string(), def));
        } else {
            let mut text = line.trim().to_string();
            while let Some(&(_, l)) = lines.get(i) {
                let t = l.trim();
                if t.is_empty()
                    || l.starts_with('#')
                    || l.starts_with("- ")
                    || l.starts_with("```")
                    || t.starts_with("<!--")
                    || lines.get(i + 1).is_some_and(|(_, l)| l.starts_with(": "))
                {
                    break;
                }
                text.push('\n');
                text.push_str(t);
                i += 1;
            }
            blocks.push(Block::Para(text));
        }
    }
    if !directives.is_empty() {
        return Err(err(
            lines.len(),
            "an example directive must come right before a ```console block",
        ));
    }
    Ok(blocks)
}

/// `as=nobody; setup=CMD` -> pairs. Known keys only, so a typo fails.
fn parse_directives(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("example directive '{part}' is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        match k {
            "as" if v == "root" || v == "nobody" => {}
            "setup" => {}
            _ => return Err(format!("unknown example directive '{k}={v}'")),
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Examples: ```console blocks, in man page sources and the README

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

// ---------------------------------------------------------------------------
// roff

/// Escape text for roff: backslashes, hyphens (so options copy and paste
/// as ASCII minus), and a leading control character.
fn esc(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// Inline markup: `literal` in bold, *word* in italic.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            if let Some(len) = chars[i + 1..].iter().position(|&c| c == '`') {
                let lit: String = chars[i + 1..i + 1 + len].iter().collect();
                let _ = write!(out, "\\fB{}\\fR", esc(&lit));
                i += len + 2;
                continue;
            }
        }
        let opens = c == '*'
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && chars
                .get(i + 1)
                .is_some_and(|c| !c.is_whitespace() && *c != '*');
        if opens {
            if let Some(len) = chars[i + 1..].iter().position(|&c| c == '*') {
                let closes_ok = chars.get(i + 2 + len).is_none_or(|c| !c.is_alphanumeric());
                if closes_ok && len > 0 {
                    let word: String = chars[i + 1..i + 1 + len].iter().collect();
                    let _ = write!(out, "\\fI{}\\fR", esc(&word));
                    i += len + 2;
                    continue;
                }
            }
        }
        out.push_str(&esc(&c.to_string()));
        i += 1;
    }
    // A text line must not start with a control character.
    out.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn code_block(out: &mut String, lines: &[String]) {
    out.push_str(".PP\n.RS 4\n.EX\n");
    for l in lines {
        let l = esc(l);
        if l.starts_with('.') || l.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str(".EE\n.RE\n");
}

fn render_blocks(out: &mut String, blocks: &[Block]) {
    for b in blocks {
        match b {
            Block::Section(t) => {
                let _ = writeln!(out, ".SH {}", quote_arg(t));
            }
            Block::Subsection(t) => {
                let _ = writeln!(out, ".SS {}", quote_arg(t));
            }
            Block::Para(t) => {
                let _ = writeln!(out, ".PP\n{}", inline(t));
            }
            Block::Bullet(t) => {
                let _ = writeln!(out, ".IP \\(bu 2\n{}", inline(t));
            }
            Block::Term(term, def) => {
                let _ = writeln!(out, ".TP\n{}\n{}", inline(term), inline(def));
            }
            // The `[..]` wildcard of an expected output reads as `...`.
            Block::Code {
                lines,
                console: true,
                ..
            } => {
                let shown: Vec<String> = lines.iter().map(|l| l.replace("[..]", "...")).collect();
                code_block(out, &shown)
            }
            Block::Code { lines, .. } => code_block(out, lines),
        }
    }
}

fn quote_arg(text: &str) -> String {
    if text.contains(' ') {
        format!("\"{}\"", esc(text))
    } else {
        esc(text)
    }
}

/// `-m, --mount[=FILE]` in roff.
fn option_header(arg: &Arg) -> String {
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("\\fB\\-{}\\fR", esc(&s.to_string())));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("\\fB\\-\\-{}\\fR", esc(l)));
    }
    let mut header = names.join(", ");
    let takes = arg.get_num_args().is_some_and(|n| n.takes_values())
        && !matches!(
            arg.get_action(),
            ArgAction::SetTrue
                | ArgAction::SetFalse
                | ArgAction::Count
                | ArgAction::Help
                | ArgAction::Version
        );
    if takes {
        let value = arg
            .get_value_names()
            .map(|v| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let value = format!("\\fI{}\\fR", esc(&value));
        let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        let _ = match (arg.is_require_equals_set(), optional) {
            (true, true) => write!(header, "[={value}]"),
            (true, false) => write!(header, "={value}"),
            (false, true) => write!(header, " [{value}]"),
            (false, false) => write!(header, " {value}"),
        };
    }
    header
}

fn arg_help(arg: &Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    let named_in_value = arg
        .get_value_names()
        .is_some_and(|v| v.iter().any(|n| n.contains('|')));
    if !values.is_empty() && !named_in_value && !arg.is_hide_possible_values_set() {
        let _ = write!(text, " (one of: {})", values.join(", "));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let is_flag = matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
    );
    if !defaults.is_empty() && !arg.is_hide_default_value_set() && !is_flag {
        let _ = write!(text, " (default: {})", defaults.join(","));
    }
    text
}

/// The arguments of a command grouped as `--help` groups them: positionals
/// ("Arguments"), ungrouped options ("Options"), then each help heading in
/// order of first use.
pub fn option_groups(cmd: &Command) -> Vec<(String, Vec<Arg>)> {
    let visible: Vec<&Arg> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
    let mut groups: Vec<(String, Vec<Arg>)> = Vec::new();
    let positionals: Vec<Arg> = visible
        .iter()
        .filter(|a| a.is_positional())
        .map(|a| (*a).clone())
        .collect();
    if !positionals.is_empty() {
        groups.push(("Arguments".into(), positionals));
    }
    let plain: Vec<Arg> = visible
        .iter()
        .filter(|a| !a.is_positional() && a.get_help_heading().is_none())
        .map(|a| (*a).clone())
        .collect();
    if !plain.is_empty() {
        groups.push(("Options".into(), plain));
    }
    for a in visible.iter().filter(|a| !a.is_positional()) {
        if let Some(h) = a.get_help_heading() {
            match groups.iter_mut().find(|(name, _)| name == h) {
                Some((_, args)) => args.push((*a).clone()),
                None => groups.push((h.to_string(), vec![(*a).clone()])),
            }
        }
    }
    groups
}

fn render_options(out: &mut String, cmd: &Command) {
    for (heading, args) in option_groups(cmd) {
        let _ = writeln!(out, ".SS {}", quote_arg(&heading));
        for arg in args {
            let header = if arg.is_positional() {
                let name = arg
                    .get_value_names()
                    .map(|v| v.join(" "))
                    .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
                format!("\\fI{}\\fR", esc(&name))
            } else {
                option_header(&arg)
            };
            let _ = writeln!(out, ".TP\n{header}\n{}", inline_plain(&arg_help(&arg)));
        }
    }
}

/// Text from clap (help strings): escaped, no markup.
fn inline_plain(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = esc(l.trim());
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else if l.is_empty() {
                ".PP".to_string()
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn usage_lines(cmd: &Command) -> Vec<String> {
    let mut cmd = cmd.clone();
    let usage = cmd.render_usage().to_string();
    usage
        .lines()
        .map(|l| l.trim().trim_start_matches("Usage:").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn render_synopsis(out: &mut String, cmd: &Command) {
    let mut first = true;
    let mut lines = usage_lines(cmd);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        lines.extend(usage_lines(sub));
    }
    for line in lines {
        if !first {
            out.push_str(".br\n");
        }
        first = false;
        let (name, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let _ = writeln!(out, "\\fB{}\\fR {}", esc(name), esc(rest));
    }
}

fn title(name: &str, section: &str) -> String {
    let manual = if section == "8" {
        "System Administration"
    } else {
        "User Commands"
    };
    format!(
        ".\\\" Generated by examples/gendocs from the clap definitions and man/src/{name}.md.\n\
         .\\\" Do not edit: edit those and run 'make man'.\n\
         .TH {} {section} \"\" \"nstools {VERSION}\" \"{manual}\"\n.nh\n.nr HY 0\n",
        name.to_uppercase().replace('-', "\\-")
    )
}

/// Split a body where the generated options go: at the end of its OPTIONS
/// section (hand-written text there introduces them), else right after
/// DESCRIPTION.
fn split_for_options(blocks: &[Block]) -> (&[Block], &[Block], bool) {
    let has_options = blocks
        .iter()
        .any(|b| matches!(b, Block::Section(t) if t == "OPTIONS"));
    let after = if has_options {
        "OPTIONS"
    } else {
        "DESCRIPTION"
    };
    let start = blocks
        .iter()
        .position(|b| matches!(b, Block::Section(t) if t == after));
    let Some(start) = start else {
        return (&[], blocks, has_options);
    };
    let end = blocks[start + 1..]
        .iter()
        .position(|b| matches!(b, Block::Section(_)))
        .map_or(blocks.len(), |p| start + 1 + p);
    let (head, tail) = blocks.split_at(end);
    (head, tail, has_options)
}

/// The sections each applet page must write by hand.
pub const REQUIRED_SECTIONS: &[&str] = &["DESCRIPTION", "EXIT STATUS", "EXAMPLES", "SEE ALSO"];
/// How many examples each applet page must show at least.
pub const MIN_EXAMPLES: usize = 4;

/// Check a page source for what generation cannot give.
pub fn check_source(src: &Source) -> Result<(), String> {
    if src.alias_of.is_some() {
        return Ok(());
    }
    for want in REQUIRED_SECTIONS {
        if !src
            .blocks
            .iter()
            .any(|b| matches!(b, Block::Section(t) if t == want))
        {
            return Err(format!("{}: has no '# {want}' section", src.path.display()));
        }
    }
    let examples = src
        .blocks
        .iter()
        .filter(|b| matches!(b, Block::Code { console: true, .. }))
        .count();
    if examples < MIN_EXAMPLES {
        return Err(format!(
            "{}: shows {examples} ```console examples, at least {MIN_EXAMPLES} are needed",
            src.path.display()
        ));
    }
    Ok(())
}

/// Every source, loaded and checked, in page order.
pub fn load_sources() -> Result<Vec<Source>, String> {
    let sources = page_names()
        .into_iter()
        .map(load_source)
        .collect::<Result<Vec<_>, _>>()?;
    for s in &sources {
        check_source(s)?;
        if let Some(target) = &s.alias_of {
            if !sources
                .iter()
                .any(|t| &t.name == target && t.alias_of.is_none())
            {
                return Err(format!(
                    "{}: alias-of '{target}' names no page",
                    s.path.display()
                ));
            }
        }
    }
    Ok(sources)
}

/// The file name of a page in `man/`: `unshare.1`.
pub fn page_file(src: &Source, sources: &[Source]) -> String {
    let section = match &src.alias_of {
        Some(t) => &sources.iter().find(|s| &s.name == t).unwrap().section,
        None => &src.section,
    };
    format!("{}.{section}", src.name)
}

/// Every man page: (file name in `man/`, contents). Names documented on
/// another page (`alias-of`) are links instead: see `man_links`.
pub fn man_pages() -> Result<Vec<(String, String)>, String> {
    let sources = load_sources()?;
    let mut pages = Vec::new();
    for src in sources.iter().filter(|s| s.alias_of.is_none()) {
        let text = if src.name == MULTICALL {
            multicall_page(src, &sources)
        } else {
            applet_page(src, &sources)
        };
        pages.push((page_file(src, &sources), text));
    }
    Ok(pages)
}

/// The alias pages: (link name in `man/`, the page it points to, in the
/// same directory). Symbolic links, so `man -l man/newuidmap.1` works in
/// the tree and `make install` copies them as links.
pub fn man_links() -> Result<Vec<(String, String)>, String> {
    let sources = load_sources()?;
    Ok(sources
        .iter()
        .filter_map(|s| {
            let target = s.alias_of.as_ref()?;
            let t = sources.iter().find(|t| &t.name == target)?;
            Some((page_file(s, &sources), page_file(t, &sources)))
        })
        .collect())
}

fn applet_page(src: &Source, sources: &[Source]) -> String {
    let cmd = applet_command(&src.name);
    let aliases: Vec<&Source> = sources
        .iter()
        .filter(|s| s.alias_of.as_deref() == Some(src.name.as_str()))
        .collect();
    let about = nstools::applets::find(&src.name).unwrap().about;
    let mut out = title(&src.name, &src.section);
    let names: Vec<String> = std::iter::once(src.name.as_str())
        .chain(aliases.iter().map(|a| a.name.as_str()))
        .map(esc)
        .collect();
    let _ = writeln!(out, ".SH NAME\n{} \\- {}", names.join(", "), esc(about));
    out.push_str(".SH SYNOPSIS\n");
    render_synopsis(&mut out, &cmd);
    for a in &aliases {
        out.push_str(".br\n");
        render_synopsis(&mut out, &applet_command(&a.name));
    }
    let (head, tail, has_options) = split_for_options(&src.blocks);
    render_blocks(&mut out, head);
    if !has_options {
        out.push_str(".SH OPTIONS\n");
    }
    render_options(&mut out, &cmd);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let _ = writeln!(
            out,
            ".SS {}",
            quote_arg(&format!("{} {}", src.name, sub.get_name()))
        );
        if let Some(about) = sub.get_about() {
            let _ = writeln!(out, "{}", inline_plain(&about.to_string()));
        }
        for (_, args) in option_groups(sub) {
            for arg in args
                .iter()
                .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
            {
                let header = if arg.is_positional() {
                    format!(
                        "\\fI{}\\fR",
                        esc(&arg
                            .get_value_names()
                            .map(|v| v.join(" "))
                            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase()))
                    )
                } else {
                    option_header(arg)
                };
                let _ = writeln!(out, ".TP\n{header}\n{}", inline_plain(&arg_help(arg)));
            }
        }
    }
    for a in &aliases {
        let alias_cmd = applet_command(&a.name);
        let _ = writeln!(out, ".SS {}", quote_arg(&format!("{} arguments", a.name)));
        for (_, args) in option_groups(&alias_cmd) {
            for arg in args
                .iter()
                .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
            {
                let header = if arg.is_positional() {
                    format!(
                        "\\fI{}\\fR",
                        esc(&arg
                            .get_value_names()
                            .map(|v| v.join(" "))
                            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase()))
                    )
                } else {
                    option_header(arg)
                };
                let _ = writeln!(out, ".TP\n{header}\n{}", inline_plain(&arg_help(arg)));
            }
        }
    }
    render_blocks(&mut out, tail);
    out
}

fn multicall_page(src: &Source, sources: &[Source]) -> String {
    let mut out = title(MULTICALL, &src.section);
    let _ = writeln!(
        out,
        ".SH NAME\n{MULTICALL} \\- the Linux namespace toolbox in one binary\n.SH SYNOPSIS\n\
         \\fB{MULTICALL}\\fR \\fIapplet\\fR [\\fIargument\\fR...]\n.br\n\
         \\fIapplet\\fR [\\fIargument\\fR...]\n.br\n\
         \\fB{MULTICALL}\\fR \\fB\\-\\-list\\fR | \\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR"
    );
    let (head, tail, _) = split_for_options(&src.blocks);
    render_blocks(&mut out, head);
    out.push_str(".SH APPLETS\n");
    for a in APPLETS {
        let s = sources.iter().find(|s| s.name == a.name).unwrap();
        let _ = writeln!(
            out,
            ".TP\n\\fB{}\\fR({})\n{}",
            esc(a.name),
            page_file(s, sources).rsplit('.').next().unwrap(),
            esc(a.about)
        );
    }
    render_blocks(&mut out, tail);
    out
}

// ---------------------------------------------------------------------------
// Completions

/// The shells completions are made for, and where each keeps its files.
pub const SHELLS: &[(Shell, &str)] = &[
    (Shell::Bash, "bash"),
    (Shell::Zsh, "zsh"),
    (Shell::Fish, "fish"),
];

/// The file name of NAME's completion for a shell, as that shell's loader
/// looks it up: bash `NAME`, zsh `_NAME`, fish `NAME.fish`.
pub fn completion_file(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Zsh => format!("_{name}"),
        Shell::Fish => format!("{name}.fish"),
        _ => name.to_string(),
    }
}

/// Values only known at run time, completed by a small shell function the
/// generator appends: which argument (by value name) gets which list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dynamic {
    /// Running processes' ids (`nsenter -t PID`).
    Pid,
    /// Names in /run/netns (`netns exec NAME`).
    Netns,
}

/// Which arguments get dynamic values: value named PID anywhere; a value
/// named NETNS anywhere, or NAME in a `netns` subcommand other than the
/// ones that create a name.
fn dynamic_of(applet: &str, sub: Option<&str>, arg: &Arg) -> Option<Dynamic> {
    let names: Vec<String> = arg
        .get_value_names()
        .map(|v| v.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    if names.iter().any(|n| n == "PID") {
        return Some(Dynamic::Pid);
    }
    if names.iter().any(|n| n == "NETNS") {
        return Some(Dynamic::Netns);
    }
    if applet == "netns"
        && arg.is_positional()
        && names.first().is_some_and(|n| n == "NAME")
        && !matches!(sub, Some("add" | "attach"))
    {
        return Some(Dynamic::Netns);
    }
    None
}

/// A dynamic argument of an applet: in subcommand `sub` (if any), the
/// option spelled `-s`/`--long`, or the positional at `index`.
#[derive(Debug, Clone)]
pub struct DynArg {
    pub id: String,
    pub sub: Option<String>,
    pub short: Option<char>,
    pub long: Option<String>,
    pub index: Option<usize>,
    pub kind: Dynamic,
}

pub fn dynamic_args(applet: &str, cmd: &Command) -> Vec<DynArg> {
    let mut out = Vec::new();
    let mut scan = |sub: Option<&str>, c: &Command| {
        let mut index = 0;
        for arg in c.get_arguments() {
            let pos = arg.is_positional().then(|| {
                index += 1;
                index
            });
            if let Some(kind) = dynamic_of(applet, sub, arg) {
                out.push(DynArg {
                    id: arg.get_id().to_string(),
                    sub: sub.map(String::from),
                    short: arg.get_short(),
                    long: arg.get_long().map(String::from),
                    index: pos,
                    kind,
                });
            }
        }
    };
    scan(None, cmd);
    for s in cmd.get_subcommands() {
        scan(Some(s.get_name()), s);
    }
    out
}

/// Every completion file: (path under `completions/`, contents).
pub fn completions() -> Vec<(String, String)> {
    let mut files = Vec::new();
    let names: Vec<&str> = page_names();
    for &(shell, dir) in SHELLS {
        for name in &names {
            let cmd = if *name == MULTICALL {
                multicall_command()
            } else {
                applet_command(name)
            };
            let text = completion_script(shell, name, cmd, &dyn_targets(name));
            files.push((format!("{dir}/{}", completion_file(shell, name)), text));
        }
    }
    files
}

/// One completion script: clap's, with the dynamic values of `targets`
/// (applet name, its dynamic arguments) wired in.
pub fn completion_script(
    shell: Shell,
    name: &str,
    mut cmd: Command,
    targets: &[(String, Vec<DynArg>)],
) -> String {
    cmd = programs_are_commands(cmd);
    if shell == Shell::Zsh {
        cmd = mark_dynamic(cmd, name, targets);
    }
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut buf);
    let mut text = String::from_utf8(buf).expect("completion scripts are UTF-8");
    let addition = match shell {
        _ if targets.is_empty() => String::new(),
        Shell::Bash => bash_addition(name, targets),
        Shell::Zsh => zsh_addition(targets),
        Shell::Fish => fish_addition(name, targets),
        _ => String::new(),
    };
    if shell == Shell::Zsh {
        text = zsh_route_dynamic(&text);
        // The autoloaded file calls its function at its end: the helpers
        // must be defined before that.
        let call = format!("if [ \"$funcstack[1]\" = \"_{name}\" ]; then");
        match text.rfind(&call) {
            Some(at) => text.insert_str(at, &format!("{}\n", addition.trim_start())),
            None => text.push_str(&addition),
        }
    } else {
        text.push_str(&addition);
    }
    with_header(shell, name, &text)
}

/// A trailing `PROGRAM [ARGUMENT...]` completes as a command line (a
/// command name, then that command's own completion) where the shell can.
fn programs_are_commands(cmd: Command) -> Command {
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut cmd = cmd.mut_args(|a| {
        let takes_command = a.is_positional()
            && a.is_trailing_var_arg_set()
            && a.get_value_hint() == clap::ValueHint::Unknown;
        if takes_command {
            a.value_hint(clap::ValueHint::CommandWithArguments)
        } else {
            a
        }
    });
    for sub in subs {
        cmd = cmd.mut_subcommand(sub, programs_are_commands);
    }
    cmd
}

/// The generated script with a "do not edit" note (after zsh's
/// `#compdef` line, which its autoloader reads first).
fn with_header(shell: Shell, name: &str, script: &str) -> String {
    let line = format!(
        "Completion of {name} for {shell}. Generated by examples/gendocs from the clap\n\
         definitions: do not edit, run 'make completions'."
    );
    let commented: String = line.lines().map(|l| format!("# {l}\n")).collect();
    match (shell, script.split_once('\n')) {
        (Shell::Zsh, Some((compdef, rest))) => format!("{compdef}\n{commented}{rest}"),
        _ => format!("{commented}{script}"),
    }
}

/// The applets (with the subcommand prefix in the multicall completion)
/// whose dynamic arguments a script must complete.
pub fn dyn_targets(name: &str) -> Vec<(String, Vec<DynArg>)> {
    let applets: Vec<&str> = if name == MULTICALL {
        APPLETS.iter().map(|a| a.name).collect()
    } else {
        vec![name]
    };
    applets
        .into_iter()
        .map(|a| (a.to_string(), dynamic_args(a, &applet_command(a))))
        .filter(|(_, d)| !d.is_empty())
        .collect()
}

fn bash_values(kind: Dynamic) -> &'static str {
    match kind {
        Dynamic::Pid => "$(command ls /proc 2>/dev/null | command grep -E '^[0-9]+$')",
        Dynamic::Netns => "$(command ls /run/netns 2>/dev/null)",
    }
}

/// bash: a wrapper that answers the dynamic arguments and leaves the rest
/// to clap's function.
fn bash_addition(name: &str, targets: &[(String, Vec<DynArg>)]) -> String {
    let clap_fn = format!("_{}", name.replace('-', "__"));
    let wrapper = format!("_nstools_dynamic_{}", name.replace('-', "_"));
    let mut s = format!(
        "\n# Values known only at run time: process ids, names in /run/netns.\n\
         {wrapper}() {{\n\
         \x20   local cur=\"${{COMP_WORDS[COMP_CWORD]-}}\" prev=\"${{COMP_WORDS[COMP_CWORD-1]-}}\"\n\
         \x20   local first=0\n"
    );
    if name == MULTICALL {
        s.push_str("    first=1\n");
    }
    s.push_str(
        "    local applet=\"${COMP_WORDS[first]##*/}\" sub=\"${COMP_WORDS[first+1]-}\"\n\
",
    );
    for (applet, args) in targets {
        let _ = writeln!(s, "    if [[ $applet == {applet} ]]; then");
        for d in args {
            let values = bash_values(d.kind);
            let sub_test = match &d.sub {
                Some(sub) => format!("$sub == {sub} && "),
                None => String::new(),
            };
            if let Some(idx) = d.index {
                let pos = idx + usize::from(d.sub.is_some());
                let _ = writeln!(
                    s,
                    "        if [[ {sub_test}$COMP_CWORD -eq $((first + {pos})) && $cur != -* ]]; then\n\
                     \x20           COMPREPLY=($(compgen -W \"{values}\" -- \"$cur\")); return 0\n\
                     \x20       fi"
                );
            } else {
                let mut spellings = Vec::new();
                if let Some(c) = d.short {
                    spellings.push(format!("-{c}"));
                }
                if let Some(l) = &d.long {
                    spellings.push(format!("--{l}"));
                }
                let _ = writeln!(
                    s,
                    "        if [[ {sub_test}( {} ) ]]; then\n\
                     \x20           COMPREPLY=($(compgen -W \"{values}\" -- \"$cur\")); return 0\n\
                     \x20       fi",
                    spellings
                        .iter()
                        .map(|o| format!("$prev == {o}"))
                        .collect::<Vec<_>>()
                        .join(" || ")
                );
                if let Some(l) = &d.long {
                    // `--long=VALUE`: one word, or three when `=` breaks words.
                    let _ = writeln!(
                        s,
                        "        if [[ {sub_test}$prev == = && ${{COMP_WORDS[COMP_CWORD-2]-}} == --{l} ]]; then\n\
                         \x20           COMPREPLY=($(compgen -W \"{values}\" -- \"$cur\")); return 0\n\
                         \x20       fi"
                    );
                    let _ = writeln!(
                        s,
                        "        if [[ {sub_test}$cur == --{l}=* ]]; then\n\
                         \x20           COMPREPLY=($(compgen -P \"--{l}=\" -W \"{values}\" -- \"${{cur#--{l}=}}\")); return 0\n\
                         \x20       fi"
                    );
                }
            }
        }
        s.push_str("    fi\n");
    }
    let _ = write!(
        s,
        "    {clap_fn} \"$@\"\n}}\n\
         if [[ \"${{BASH_VERSINFO[0]}}\" -eq 4 && \"${{BASH_VERSINFO[1]}}\" -ge 4 || \"${{BASH_VERSINFO[0]}}\" -gt 4 ]]; then\n\
         \x20   complete -F {wrapper} -o nosort -o bashdefault -o default {name}\n\
         else\n\
         \x20   complete -F {wrapper} -o bashdefault -o default {name}\n\
         fi\n"
    );
    s
}

/// The marker put in a dynamic argument's help for the zsh script, where
/// `zsh_route_dynamic` finds its spec.
fn marker(kind: Dynamic) -> &'static str {
    match kind {
        Dynamic::Pid => " NSTOOLSDYNPID",
        Dynamic::Netns => " NSTOOLSDYNNETNS",
    }
}

fn zsh_function(kind: Dynamic) -> &'static str {
    match kind {
        Dynamic::Pid => "_nstools_pids",
        Dynamic::Netns => "_nstools_netns_names",
    }
}

/// Mark the dynamic arguments of `name`'s command (every applet's, in the
/// multicall command) in their help text.
fn mark_dynamic(mut cmd: Command, name: &str, targets: &[(String, Vec<DynArg>)]) -> Command {
    for (applet, args) in targets {
        for d in args {
            // mut_args keeps the order of positionals (mut_arg would not).
            let id = d.id.clone();
            let mark = move |a: Arg| {
                if a.get_id() != id.as_str() {
                    return a;
                }
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                a.help(format!("{help}{}", marker(d.kind)))
            };
            let in_applet = |c: Command| match &d.sub {
                Some(sub) => c.mut_subcommand(sub.as_str(), |s| s.mut_args(mark)),
                None => c.mut_args(mark),
            };
            cmd = if name == MULTICALL {
                cmd.mut_subcommand(applet.as_str(), in_applet)
            } else {
                in_applet(cmd)
            };
        }
    }
    cmd
}

/// Send each marked spec's values through our function instead of the
/// one clap chose, and drop the marker.
fn zsh_route_dynamic(script: &str) -> String {
    let mut out = String::new();
    for line in script.lines() {
        let mut line = line.to_string();
        for kind in [Dynamic::Pid, Dynamic::Netns] {
            if !line.contains(marker(kind)) {
                continue;
            }
            line = line.replace(marker(kind), "");
            // A spec ends in `:ACTION' \`: swap the action.
            if let Some(end) = line.rfind('\'') {
                if let Some(colon) = line[..end].rfind(':') {
                    line = format!("{}{}{}", &line[..=colon], zsh_function(kind), &line[end..]);
                }
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// zsh: the functions the re-routed specs call.
fn zsh_addition(targets: &[(String, Vec<DynArg>)]) -> String {
    let mut s =
        String::from("\n# Values known only at run time: process ids, names in /run/netns.\n");
    let kinds: Vec<Dynamic> = targets
        .iter()
        .flat_map(|(_, a)| a.iter().map(|d| d.kind))
        .collect();
    if kinds.contains(&Dynamic::Pid) {
        s.push_str(
            "(( $+functions[_nstools_pids] )) ||\n_nstools_pids() {\n\
             \x20   local -a pids\n\
             \x20   pids=(/proc/<->(N:t))\n\
             \x20   _describe -t pids 'process id' pids\n}\n",
        );
    }
    if kinds.contains(&Dynamic::Netns) {
        s.push_str(
            "(( $+functions[_nstools_netns_names] )) ||\n_nstools_netns_names() {\n\
             \x20   local -a names\n\
             \x20   names=(/run/netns/*(N:t))\n\
             \x20   _describe -t netns 'network namespace' names\n}\n",
        );
    }
    s
}

fn fish_values(kind: Dynamic) -> &'static str {
    match kind {
        Dynamic::Pid => "(string match -r '^[0-9]+\\$' -- (command ls /proc 2>/dev/null))",
        Dynamic::Netns => "(command ls /run/netns 2>/dev/null)",
    }
}

/// fish: more `complete` lines for the same options add their values; a
/// positional is recognised by the number of words before the cursor.
fn fish_addition(name: &str, targets: &[(String, Vec<DynArg>)]) -> String {
    let mut s =
        String::from("\n# Values known only at run time: process ids, names in /run/netns.\n");
    for (applet, args) in targets {
        for d in args {
            let mut cond = Vec::new();
            let mut words = 0;
            if name == MULTICALL {
                cond.push(format!("__fish_seen_subcommand_from {applet}"));
                words += 1;
            }
            if let Some(sub) = &d.sub {
                cond.push(format!("__fish_seen_subcommand_from {sub}"));
                words += 1;
            }
            let mut spec = String::new();
            if let Some(c) = d.short {
                let _ = write!(spec, " -s {c}");
            }
            if let Some(l) = &d.long {
                let _ = write!(spec, " -l {l}");
            }
            if let Some(idx) = d.index {
                cond.push(format!(
                    "test (count (commandline -opc)) -eq {}",
                    words + idx
                ));
                spec.push_str(" -f");
            } else {
                spec.push_str(" -x");
            }
            let cond = format!(" -n \"{}\"", cond.join("; and "));
            let cond = if cond == " -n \"\"" {
                String::new()
            } else {
                cond
            };
            let _ = writeln!(
                s,
                "complete -c {name}{cond}{spec} -a \"{}\"",
                fish_values(d.kind)
            );
        }
    }
    s
}
