//! The documentation is part of the product: the committed man pages and
//! completions are exactly what the code generates, every example in the
//! man pages and the README runs and prints what it shows, every page
//! renders without warnings, `--help` fits 80 columns, and the completion
//! scripts load in bash, zsh and fish and complete what they should.

mod common;
#[path = "../examples/gendocs/gen/mod.rs"]
mod gen;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Arg, Command as ClapCommand};
use clap_complete::Shell;
use common::*;

fn root() -> PathBuf {
    gen::root()
}

/// The files directly in `dir` (not in subdirectories), sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// ---------------------------------------------------------------------------
// Generated files match the code

#[test]
fn every_applet_has_a_checked_man_page_source() {
    // Fails naming man/src/APPLET.md when an applet of the table has none,
    // or when it lacks a required section or enough examples.
    let sources = gen::load_sources().unwrap_or_else(|e| panic!("{e}"));
    for a in nstools::applets::APPLETS {
        assert!(sources.iter().any(|s| s.name == a.name), "{}", a.name);
    }
}

#[test]
fn a_missing_page_source_is_named_in_the_error() {
    let err = gen::load_source("no-such-applet").unwrap_err();
    assert!(err.contains("man/src/no-such-applet.md"), "{err}");
}

/// A page source with these sections, each with its examples.
fn source_with(name: &str, sections: &[&str], examples: usize) -> Result<(), String> {
    let mut text = String::from("---\nsection: 1\n---\n");
    for s in sections {
        text.push_str(&format!("# {s}\nText.\n\n"));
    }
    for _ in 0..examples {
        text.push_str("```console\n$ true\n```\n\n");
    }
    let src = gen::parse_source(name, Path::new("man/src/x.md"), &text)?;
    gen::check_source(&src)
}

#[test]
fn a_page_source_without_what_generation_cannot_give_is_refused() {
    let all = ["DESCRIPTION", "EXIT STATUS", "SEE ALSO", "EXAMPLES"];
    assert_eq!(source_with("unshare", &all, 4), Ok(()));
    let err = source_with("unshare", &all[1..], 4).unwrap_err();
    assert!(err.contains("'# DESCRIPTION'"), "{err}");
    let err = source_with("unshare", &all, 3).unwrap_err();
    assert!(err.contains("at least 4"), "{err}");
    let err = source_with("mkmap", &all, 4).unwrap_err();
    assert!(err.contains("'# SECURITY'"), "{err}");
    let with_security = [&all[..], &["SECURITY"]].concat();
    assert_eq!(source_with("mkmap", &with_security, 4), Ok(()));
    let err = gen::parse_source("x", Path::new("x.md"), "# DESCRIPTION\n").unwrap_err();
    assert!(err.contains("front matter"), "{err}");
}

#[test]
fn committed_man_pages_are_what_the_code_generates() {
    let pages = gen::man_pages().unwrap_or_else(|e| panic!("{e}"));
    let dir = root().join("man");
    for (file, text) in &pages {
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            &committed == text,
            "man/{file} differs from what the code generates: run 'make man' and commit"
        );
    }
    let links = gen::man_links().unwrap();
    for (link, target) in &links {
        let committed = std::fs::read_link(dir.join(link)).ok();
        assert_eq!(
            committed.as_deref(),
            Some(Path::new(target)),
            "man/{link} must be a link to {target}: run 'make man' and commit"
        );
    }
    let mut expected: Vec<String> = pages.into_iter().map(|(f, _)| f).collect();
    expected.extend(links.into_iter().map(|(l, _)| l));
    expected.sort();
    assert_eq!(
        files_in(&dir),
        expected,
        "man/ holds pages the code does not generate (or lacks some): run 'make man'"
    );
}

#[test]
fn committed_completions_are_what_the_code_generates() {
    let files = gen::completions();
    let dir = root().join("completions");
    for (file, text) in &files {
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            &committed == text,
            "completions/{file} differs from what the code generates: run 'make completions' and commit"
        );
    }
    for &(_, shell_dir) in gen::SHELLS {
        let mut expected: Vec<String> = files
            .iter()
            .filter_map(|(f, _)| f.strip_prefix(&format!("{shell_dir}/")).map(String::from))
            .collect();
        expected.sort();
        assert_eq!(
            files_in(&dir.join(shell_dir)),
            expected,
            "completions/{shell_dir}"
        );
    }
}

// ---------------------------------------------------------------------------
// Pages render

fn man_files() -> Vec<PathBuf> {
    let dir = root().join("man");
    let files: Vec<PathBuf> = files_in(&dir)
        .into_iter()
        .filter(|f| f.ends_with(".1") || f.ends_with(".8"))
        .map(|f| dir.join(f))
        .collect();
    assert!(files.len() >= 2, "no pages in {}", dir.display());
    files
}

#[test]
fn every_man_page_renders_without_warnings() {
    for page in man_files() {
        let mut groff = Command::new("groff");
        groff.args(["-man", "-ww", "-z", "-Tutf8"]).arg(&page);
        let r = run_command(groff, TIMEOUT);
        assert!(
            r.ok() && r.stderr.is_empty(),
            "groff warns about {}:\n{}",
            page.display(),
            r.stderr
        );
        let mut man = Command::new("man");
        man.args(["--warnings", "-l", "-Tutf8"])
            .arg(&page)
            .env("MANWIDTH", "80");
        let r = run_command(man, TIMEOUT);
        assert!(
            r.ok() && r.stderr.is_empty(),
            "man warns about {}:\n{}",
            page.display(),
            r.stderr
        );
        // An alias page is a link: it shows its target's page.
        let shown = std::fs::read_link(&page).unwrap_or_else(|_| page.clone());
        let name = shown.file_stem().unwrap().to_string_lossy().to_uppercase();
        assert!(r.stdout.contains(&name), "{}", r.stdout);
    }
}

#[test]
fn every_applet_page_lists_every_visible_option() {
    for a in nstools::applets::APPLETS {
        let src = gen::load_source(a.name).unwrap();
        if src.alias_of.is_some() {
            continue;
        }
        let page = std::fs::read_to_string(
            root()
                .join("man")
                .join(format!("{}.{}", a.name, src.section)),
        )
        .unwrap();
        for arg in gen::applet_command(a.name).get_arguments() {
            if let (Some(long), false) = (arg.get_long(), arg.is_hide_set()) {
                let spelled = format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-"));
                assert!(page.contains(&spelled), "{}: --{long} missing", a.name);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Help text

#[test]
fn every_applet_help_fits_80_columns() {
    let mut names = applets();
    assert!(names.contains(&"unshare".to_string()));
    names.push("nstools".to_string());
    for name in names {
        let mut cmd = Command::new(bin_dir().join(&name));
        cmd.arg("--help");
        let r = run_command(cmd, TIMEOUT);
        r.assert_ok();
        assert!(r.stdout.lines().count() > 3, "{name}: {}", r.stdout);
        for line in r.stdout.lines() {
            assert!(
                line.chars().count() <= 80,
                "{name} --help: line wider than 80 columns: {line:?}"
            );
        }
    }
}

#[test]
fn help_groups_options_as_the_man_page_does() {
    for a in nstools::applets::APPLETS {
        let r = run(a.name, &["--help"]);
        // clap's group titles: a line "Heading:" at column 0.
        let help_groups: Vec<String> = r
            .assert_ok()
            .stdout
            .lines()
            .filter(|l| !l.starts_with(' ') && l.ends_with(':') && !l.contains("Usage"))
            .map(|l| l.trim_end_matches(':').to_string())
            .collect();
        let page_groups: Vec<String> = gen::option_groups(&gen::applet_command(a.name))
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        if gen::applet_command(a.name).has_subcommands() {
            // Subcommands are listed under "Commands:" in --help, and each
            // gets its own subsection on the page.
            assert!(help_groups.iter().any(|g| g == "Commands"), "{}", a.name);
            continue;
        }
        assert_eq!(
            help_groups, page_groups,
            "{}: --help and the man page group differently",
            a.name
        );
    }
}

fn all_args(cmd: &ClapCommand) -> Vec<(String, Arg)> {
    let mut out: Vec<(String, Arg)> = cmd
        .get_arguments()
        .map(|a| (cmd.get_name().to_string(), a.clone()))
        .collect();
    for sub in cmd.get_subcommands() {
        out.extend(all_args(sub));
    }
    out
}

#[test]
fn every_option_has_a_one_line_description() {
    for a in nstools::applets::APPLETS {
        for (cmd, arg) in all_args(&gen::applet_command(a.name)) {
            if arg.is_hide_set() {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                !help.trim().is_empty() && !help.contains('\n'),
                "{cmd}: argument '{}' needs a one-line description, has {help:?}",
                arg.get_id()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Examples

/// Run one example block inside namespaces of its own (mount, UTS, IPC,
/// network; a tmpfs on /run, so /run/netns starts empty), in a scratch
/// directory, as root or as uid 65534; compare what each command prints
/// (stdout and stderr together) with what the block shows.
fn run_example(ex: &gen::Example) -> Result<(), String> {
    let dir = scratch("example");
    let mut steps = String::from("exec 2>&1\n");
    for (i, step) in ex.steps.iter().enumerate() {
        steps.push_str(&format!(
            "printf '\\n@@nstools-step {i}@@\\n'\n{}\n",
            step.command
        ));
    }
    steps.push_str("printf '\\n@@nstools-step end@@\\n'\n");
    std::fs::write(dir.join("steps.sh"), steps).unwrap();
    std::fs::write(dir.join("setup.sh"), ex.setup.join("\n") + "\n").unwrap();
    set_mode(&dir.join("steps.sh"), 0o644);
    let become_ = if ex.as_nobody {
        "setpriv --reuid=65534 --regid=65534 --clear-groups --"
    } else {
        ""
    };
    let wrapper = format!(
        "set -e; mount -t tmpfs -o mode=0755 nstools-examples /run; cd {dir}; \
         if ! bash -e setup.sh >setup.out 2>&1; then echo SETUP FAILED; cat setup.out; exit 1; fi; \
         exec {become_} bash steps.sh",
        dir = dir.display()
    );
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args([
        "-muin",
        "--propagation",
        "private",
        "--",
        "bash",
        "-c",
        &wrapper,
    ])
    .env("PATH", path_with_applets())
    .env("LC_ALL", "C.UTF-8")
    .env("SHELL", "/bin/sh")
    .current_dir(&dir);
    let r = run_command(cmd, TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let marker = |i: &str| format!("@@nstools-step {i}@@");
    let mut report = String::new();
    for (i, step) in ex.steps.iter().enumerate() {
        let start = lines.iter().position(|l| *l == marker(&i.to_string()));
        let next = if i + 1 == ex.steps.len() {
            "end".to_string()
        } else {
            (i + 1).to_string()
        };
        let end = lines.iter().position(|l| *l == marker(&next));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(format!(
                "{}: the example did not run through (status {:?}):\n{}{}",
                ex.origin, r.status, r.stdout, r.stderr
            ));
        };
        let mut actual: Vec<&str> = lines[start + 1..end].to_vec();
        while actual.last().is_some_and(|l| l.is_empty()) {
            actual.pop();
        }
        let mut expected = step.expected.clone();
        while expected.last().is_some_and(|l| l.is_empty()) {
            expected.pop();
        }
        if !gen::output_matches(&expected, &actual) {
            report.push_str(&format!(
                "{}: $ {}\n--- expected\n{}\n--- got\n{}\n",
                ex.origin,
                step.command,
                expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

fn run_examples(origin: &Path) -> usize {
    let text = std::fs::read_to_string(origin).unwrap();
    let rel = origin.strip_prefix(root()).unwrap_or(origin);
    let examples = gen::examples_of(rel, &text).unwrap_or_else(|e| panic!("{e}"));
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|ex| run_example(ex).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    examples.len()
}

#[test]
fn every_man_page_example_runs_and_shows_its_output() {
    let mut total = 0;
    for name in gen::page_names() {
        let n = run_examples(&gen::source_path(name));
        total += n;
    }
    assert!(total >= 8, "only {total} examples found");
}

#[test]
fn every_readme_example_runs_and_shows_its_output() {
    let n = run_examples(&root().join("README.md"));
    assert!(n >= 2, "only {n} examples in README.md");
}

#[test]
fn readme_has_a_section_with_an_example_per_applet() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let applets_part = readme
        .split("\n## Applets\n")
        .nth(1)
        .expect("README.md has a '## Applets' section")
        .split("\n## ")
        .next()
        .unwrap();
    for a in nstools::applets::APPLETS {
        // Aliases (newuidmap on mkmap's page) share their target's section.
        let src = gen::load_source(a.name).unwrap();
        let name = src.alias_of.as_deref().unwrap_or(a.name);
        let section = applets_part
            .split("\n### ")
            .find(|s| s.lines().next().is_some_and(|l| l.trim() == name))
            .unwrap_or_else(|| panic!("README.md: no '### {name}' under '## Applets'"));
        assert!(
            section.contains("```console\n$ "),
            "README.md: '### {name}' shows no ```console example"
        );
    }
}

#[test]
fn a_wrong_example_output_is_reported() {
    let ex = gen::Example {
        origin: "test".into(),
        as_nobody: false,
        setup: vec![],
        steps: vec![gen::Step {
            command: "echo one".into(),
            expected: vec!["two".into()],
        }],
    };
    let err = run_example(&ex).unwrap_err();
    assert!(err.contains("--- got\none"), "{err}");
}

#[test]
fn example_output_patterns_match_as_documented() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(gen::output_matches(&e(&["a [..] c"]), &["a b c"]));
    assert!(!gen::output_matches(&e(&["a [..] c"]), &["a b d"]));
    assert!(gen::output_matches(
        &e(&["x", "...", "z"]),
        &["x", "1", "2", "z"]
    ));
    assert!(gen::output_matches(&e(&["x", "...", "z"]), &["x", "z"]));
    assert!(!gen::output_matches(&e(&["x", "z"]), &["x", "y", "z"]));
}

// ---------------------------------------------------------------------------
// Completions

/// Source a bash completion script, complete `words` (the last one is the
/// word under the cursor) with the function it registered, print COMPREPLY.
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "set -u; source '{script}' || exit 9\n\
         fn=$(complete -p {cmd} | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')\n\
         [ -n \"$fn\" ] || {{ echo 'no completion function' >&2; exit 8; }}\n\
         COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         \"$fn\" {cmd} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display(),
        cmd = words[0],
        words = quoted.join(" ")
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", &program]);
    let r = run_command(cmd, TIMEOUT);
    assert!(
        r.ok() && r.stderr.is_empty(),
        "bash completion of {words:?} failed: {:?}\n{}",
        r.status,
        r.stderr
    );
    r.stdout.lines().map(String::from).collect()
}

fn completion(shell_dir: &str, file: &str) -> PathBuf {
    root().join("completions").join(shell_dir).join(file)
}

#[test]
fn bash_completes_applet_names_options_and_values() {
    let nstools = completion("bash", "nstools");
    assert_eq!(bash_complete(&nstools, &["nstools", "un"]), ["unshare"]);
    assert_eq!(
        bash_complete(&nstools, &["nstools", "unshare", "--prop"]),
        ["--propagation"]
    );
    let unshare = completion("bash", "unshare");
    assert_eq!(
        bash_complete(&unshare, &["unshare", "--prop"]),
        ["--propagation"]
    );
    assert_eq!(
        bash_complete(&unshare, &["unshare", "--propagation", "s"]),
        ["slave", "shared"]
    );
    assert_eq!(
        bash_complete(&unshare, &["unshare", "--map-r"]),
        ["--map-root-user"]
    );
    // The program is a command; option values are not taken for it.
    for words in [
        &["unshare", "-r", "setpri"][..],
        &["unshare", "--propagation", "slave", "-m", "setpri"],
        &["unshare", "-rw", "/", "setpri"],
        &["nstools", "unshare", "-r", "setpri"],
        &["unshare", "--", "setpri"],
    ] {
        let script = if words[0] == "nstools" {
            &nstools
        } else {
            &unshare
        };
        assert_eq!(bash_complete(script, words), ["setpriv"], "{words:?}");
    }
    assert_eq!(bash_complete(&unshare, &["unshare", "-w", "/et"]), ["/etc"]);
}

#[test]
fn bash_has_a_completion_for_every_applet() {
    for name in applets() {
        let script = completion("bash", &name);
        let words = bash_complete(&script, &[&name, "--hel"]);
        assert_eq!(words, ["--help"], "{name}");
    }
}

#[test]
fn fish_loads_and_completes_applet_names_and_options() {
    let dir = root().join("completions/fish");
    let program = format!(
        "for f in {dir}/*.fish; source $f; or exit 9; end\n\
         complete -C 'nstools un'; echo @@\n\
         complete -C 'unshare --prop'; echo @@\n\
         complete -C 'nstools unshare --propagation '",
        dir = dir.display()
    );
    let mut cmd = Command::new("fish");
    cmd.args(["--no-config", "-c", &program]);
    let r = run_command(cmd, TIMEOUT);
    assert!(
        r.ok() && r.stderr.is_empty(),
        "{:?}\n{}",
        r.status,
        r.stderr
    );
    let parts: Vec<Vec<&str>> = r
        .stdout
        .split("@@\n")
        .map(|p| p.lines().map(|l| l.split('\t').next().unwrap()).collect())
        .collect();
    assert_eq!(parts[0], ["unshare"], "{}", r.stdout);
    assert_eq!(parts[1], ["--propagation"], "{}", r.stdout);
    let mut values = parts[2].clone();
    values.sort();
    assert_eq!(
        values,
        ["private", "shared", "slave", "unchanged"],
        "{}",
        r.stdout
    );
}

#[test]
fn zsh_loads_every_completion() {
    let dir = root().join("completions/zsh");
    let program = format!(
        "fpath=({dir} $fpath); autoload -Uz compinit; compinit -u -D -d /nonexistent/zcompdump\n\
         for f in {dir}/_*; do autoload -Uz ${{f:t}}; source $f || exit 9; done\n\
         for name in $(nstools --list) nstools; do\n\
           [[ $_comps[$name] == _$name ]] || {{ echo \"no completion for $name\" >&2; exit 8; }}\n\
         done",
        dir = dir.display()
    );
    let mut cmd = Command::new("zsh");
    cmd.args(["-f", "-c", &program])
        .env("PATH", path_with_applets());
    let r = run_command(cmd, TIMEOUT);
    assert!(
        r.ok() && r.stderr.is_empty(),
        "{:?}\n{}",
        r.status,
        r.stderr
    );
}

/// Type each line into an interactive zsh (through zsh/zpty) whose fpath
/// holds `fpath`, press Tab, and return what the command line became.
fn zsh_complete(fpath: &Path, lines: &[&str], setup: &str) -> Vec<String> {
    let dir = scratch("zsh");
    let out = dir.join("out");
    let quoted: Vec<String> = lines.iter().map(|l| format!("'{l}'")).collect();
    let program = format!(
        "zmodload zsh/zpty\n\
         zpty z 'zsh -f -i'\n\
         zpty -w z \"PS1='> '; fpath=({fpath} \\$fpath); autoload -Uz compinit; compinit -u -D -d /nonexistent/zcompdump\"\n\
         zpty -w z '_show() {{ print -r -- \"<$BUFFER>\" >> {out}; BUFFER=; }}; zle -N _show; bindkey \"^T\" _show'\n\
         n=0\n\
         for line in {lines}; do\n\
           zpty -w -n z \"$line\"$'\\t\\x14'; (( n++ ))\n\
           for i in {{1..200}}; do [[ -f {out} && $(wc -l < {out}) -ge $n ]] && break; sleep 0.05; done\n\
         done\n\
         while zpty -r -t z chunk; do print -rn -- \"$chunk\" >> {out}.screen; done\n\
         zpty -d z",
        fpath = fpath.display(),
        out = out.display(),
        lines = quoted.join(" ")
    );
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args(["-m", "--propagation", "private", "bash", "-c"])
        .arg(format!("{setup}\nexec zsh -f -c \"$0\""))
        .arg(&program);
    let r = run_command(cmd, TIMEOUT);
    assert!(r.ok(), "{:?}\n{}", r.status, r.stderr);
    let got: Vec<String> = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim_start_matches('<').trim_end_matches('>').to_string())
        .collect();
    if got.len() != lines.len() {
        // Say what the terminal showed.
        let screen = std::fs::read_to_string(dir.join("out.screen")).unwrap_or_default();
        eprintln!("zsh screen for {lines:?}:\n{screen:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    got
}

#[test]
fn zsh_completes_applet_names_options_and_values() {
    let got = zsh_complete(
        &root().join("completions/zsh"),
        &[
            "nstools un",
            "unshare --prop",
            "nstools unshare --map-r",
            "unshare --propagation sl",
            "unshare -r setpri",
        ],
        "",
    );
    assert_eq!(
        got,
        [
            "nstools unshare ",
            "unshare --propagation=",
            "nstools unshare --map-root-user ",
            "unshare --propagation slave ",
            "unshare -r setpriv ",
        ]
    );
}

/// An applet shaped like nsenter and netns: `-t PID`, `exec NAME`.
fn dynamic_sample() -> ClapCommand {
    ClapCommand::new("sample")
        .arg(
            Arg::new("target")
                .short('t')
                .long("target")
                .value_name("PID")
                .help("The target process"),
        )
        .subcommand(
            ClapCommand::new("exec")
                .arg(
                    Arg::new("name")
                        .value_name("NETNS")
                        .help("A network namespace"),
                )
                .arg(Arg::new("cmd").num_args(0..).help("The command")),
        )
}

fn sample_script(shell: Shell, dir: &Path) -> PathBuf {
    let cmd = dynamic_sample();
    let targets = vec![("sample".to_string(), gen::dynamic_args("sample", &cmd))];
    assert_eq!(targets[0].1.len(), 2, "{:?}", targets);
    let text = gen::completion_script(shell, "sample", cmd, &targets);
    let path = dir.join(gen::completion_file(shell, "sample"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bash_completes_pids_and_netns_names() {
    let dir = scratch("dyncomp");
    let script = sample_script(Shell::Bash, &dir);
    // Our own PID namespace: the PIDs there are known; a tmpfs on /run holds
    // the test's own /run/netns.
    let program = format!(
        "mount -t tmpfs none /run && mkdir /run/netns && touch /run/netns/blue /run/netns/red\n\
         source {s}\n\
         COMP_WORDS=(sample -t ''); COMP_CWORD=2; _nstools_dynamic_sample sample '' -t\n\
         echo \"pids: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(sample --target=''); COMP_CWORD=1; _nstools_dynamic_sample sample --target= sample\n\
         echo \"eq: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(sample --target = ''); COMP_CWORD=3; _nstools_dynamic_sample sample '' =\n\
         echo \"split: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(sample exec b); COMP_CWORD=2; _nstools_dynamic_sample sample b exec\n\
         echo \"names: ${{COMPREPLY[*]}}\"",
        s = script.display()
    );
    let r = in_own_pid_and_mount_ns(&program);
    assert!(
        r.ok() && r.stderr.is_empty(),
        "{:?}\n{}",
        r.status,
        r.stderr
    );
    assert!(r.stdout.contains("pids: 1"), "{}", r.stdout);
    assert!(r.stdout.contains("eq: --target=1"), "{}", r.stdout);
    assert!(r.stdout.contains("split: 1"), "{}", r.stdout);
    assert!(r.stdout.contains("names: blue\n"), "{}", r.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fish_completes_pids_and_netns_names() {
    let dir = scratch("dyncomp-fish");
    let script = sample_script(Shell::Fish, &dir);
    let program = format!(
        "mount -t tmpfs none /run && mkdir /run/netns && touch /run/netns/blue /run/netns/red && \
         fish --no-config -c \"source {s}; complete -C 'sample -t '; echo @@; complete -C 'sample exec '\"",
        s = script.display()
    );
    let r = in_own_pid_and_mount_ns(&program);
    assert!(
        r.ok() && r.stderr.is_empty(),
        "{:?}\n{}",
        r.status,
        r.stderr
    );
    let (pids, names) = r.stdout.split_once("@@\n").unwrap();
    assert!(pids.lines().any(|l| l == "1"), "{}", r.stdout);
    assert!(
        names.lines().any(|l| l == "blue") && names.lines().any(|l| l == "red"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zsh_routes_pids_and_netns_names_to_its_helpers() {
    let dir = scratch("dyncomp-zsh");
    let script = sample_script(Shell::Zsh, &dir);
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains(":PID:_nstools_pids'"), "{text}");
    assert!(text.contains(":_nstools_netns_names'"), "{text}");
    assert!(!text.contains("NSTOOLSDYN"), "{text}");
    let program = format!(
        "autoload -Uz compinit; compinit -u -D -d /nonexistent/zcompdump; source {s} || exit 9\n\
         (( $+functions[_nstools_pids] && $+functions[_nstools_netns_names] )) || exit 8",
        s = script.display()
    );
    let mut cmd = Command::new("zsh");
    cmd.args(["-f", "-c", &program]);
    let r = run_command(cmd, TIMEOUT);
    assert!(
        r.ok() && r.stderr.is_empty(),
        "{:?}\n{}",
        r.status,
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run a bash program in a PID and mount namespace of its own (util-linux's
/// unshare, so a bug of ours cannot leak mounts), with its own /proc.
fn in_own_pid_and_mount_ns(program: &str) -> Run {
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args([
        "-mpf",
        "--mount-proc",
        "--propagation",
        "private",
        "bash",
        "-c",
        program,
    ]);
    run_command(cmd, TIMEOUT)
}
