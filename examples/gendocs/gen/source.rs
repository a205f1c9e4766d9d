//! The hand-written page sources, `man/src/NAME.md`: front matter and a
//! small markdown dialect (see `man/src/README.md`).

use std::path::{Path, PathBuf};

use super::{page_names, root};

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
pub(super) fn parse_directives(text: &str) -> Result<Vec<(String, String)>, String> {
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

/// The sections each applet page must write by hand.
pub const REQUIRED_SECTIONS: &[&str] = &["DESCRIPTION", "EXIT STATUS", "EXAMPLES", "SEE ALSO"];
/// Sections some pages need besides those: (applet, section).
pub const REQUIRED_FOR: &[(&str, &str)] = &[("mkmap", "SECURITY")];
/// How many examples each applet page must show at least.
pub const MIN_EXAMPLES: usize = 4;

/// Check a page source for what generation cannot give.
pub fn check_source(src: &Source) -> Result<(), String> {
    if src.alias_of.is_some() {
        return Ok(());
    }
    let extra = REQUIRED_FOR
        .iter()
        .filter(|(applet, _)| *applet == src.name)
        .map(|(_, section)| section);
    for want in REQUIRED_SECTIONS.iter().chain(extra) {
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
