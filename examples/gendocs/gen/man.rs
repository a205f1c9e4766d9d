//! roff: the man pages, from the clap definitions and the page sources.

use std::fmt::Write as _;

use clap::{Arg, ArgAction, Command};
use nstools::applets::APPLETS;

use super::source::{load_sources, Block, Source};
use super::{applet_command, MULTICALL, VERSION};

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
        render_args(out, &args);
    }
}

/// One `.TP` paragraph per argument: its spelling, then its help.
fn render_args(out: &mut String, args: &[Arg]) {
    for arg in args {
        let header = if arg.is_positional() {
            let name = arg
                .get_value_names()
                .map(|v| v.join(" "))
                .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
            format!("\\fI{}\\fR", esc(&name))
        } else {
            option_header(arg)
        };
        let _ = writeln!(out, ".TP\n{header}\n{}", inline_plain(&arg_help(arg)));
    }
}

/// The arguments of a subcommand or an alias, without `--help`/`--version`
/// (the page lists those once).
fn own_args(cmd: &Command) -> Vec<Arg> {
    option_groups(cmd)
        .into_iter()
        .flat_map(|(_, args)| args)
        .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
        .collect()
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
        pages.push((page_file(src, &sources), ascii_roff(&text)));
    }
    Ok(pages)
}

/// groff reads its input as Latin-1 unless run through preconv: write
/// every other character (the tree lines of mountprop's examples) as a
/// `\[uXXXX]` escape, which every output device renders.
fn ascii_roff(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let _ = write!(out, "\\[u{:04X}]", u32::from(c));
        }
    }
    out
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
        render_args(&mut out, &own_args(sub));
    }
    for a in &aliases {
        let _ = writeln!(out, ".SS {}", quote_arg(&format!("{} arguments", a.name)));
        render_args(&mut out, &own_args(&applet_command(&a.name)));
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
