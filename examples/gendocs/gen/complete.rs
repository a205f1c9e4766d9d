//! Completion scripts for bash, zsh and fish: clap_complete's, plus the
//! values only known at run time (process ids, names in /run/netns).

use std::fmt::Write as _;

use clap::{Arg, Command};
use clap_complete::Shell;
use nstools::applets::APPLETS;

use super::{applet_command, multicall_command, page_names, MULTICALL};

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
    let programs = program_targets(name, &cmd);
    cmd = programs_are_commands(cmd);
    if shell == Shell::Zsh {
        cmd = mark_dynamic(cmd, name, targets);
    }
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut buf);
    let mut text = String::from_utf8(buf).expect("completion scripts are UTF-8");
    let addition = match shell {
        Shell::Bash if !targets.is_empty() || !programs.is_empty() => {
            bash_addition(name, targets, &programs)
        }
        _ if targets.is_empty() => String::new(),
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
/// An applet whose trailing arguments are a program and its arguments:
/// its name and the options that take their value as the next word.
#[derive(Debug, Clone)]
pub struct ProgramTarget {
    pub applet: String,
    pub long_values: Vec<String>,
    pub short_values: Vec<char>,
}

/// The applets of `name`'s script (every applet, for the multicall) that
/// end in a program to run.
fn program_targets(name: &str, cmd: &Command) -> Vec<ProgramTarget> {
    let applets: Vec<(String, &Command)> = if name == MULTICALL {
        cmd.get_subcommands()
            .map(|s| (s.get_name().to_string(), s))
            .collect()
    } else {
        vec![(name.to_string(), cmd)]
    };
    applets
        .into_iter()
        .filter(|(_, c)| c.get_positionals().any(|a| a.is_trailing_var_arg_set()))
        .map(|(applet, c)| {
            let separate: Vec<&Arg> = c
                .get_arguments()
                .filter(|a| {
                    !a.is_positional()
                        && !a.is_require_equals_set()
                        && a.get_num_args().is_some_and(|n| n.min_values() > 0)
                })
                .collect();
            ProgramTarget {
                applet,
                long_values: separate
                    .iter()
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                    .collect(),
                short_values: separate.iter().filter_map(|a| a.get_short()).collect(),
            }
        })
        .collect()
}

/// bash: find the program word; complete a command name there, and hand
/// what follows to that command's own completion (bash-completion's
/// `_command_offset`, when loaded).
fn bash_program(s: &mut String, p: &ProgramTarget) {
    let mut patterns = p.long_values.clone();
    if !p.short_values.is_empty() {
        let set: String = p.short_values.iter().collect();
        patterns.push(format!("-[{set}]"));
        patterns.push(format!("-[!-]*[{set}]"));
    }
    let skip_value = if patterns.is_empty() {
        String::new()
    } else {
        format!(
            "                {}) (( i += 2 )); continue ;;\n",
            patterns.join("|")
        )
    };
    let _ = write!(
        s,
        "    if [[ $applet == {applet} ]]; then\n\
         \x20       local i=$((first + 1)) w\n\
         \x20       while (( i < COMP_CWORD )); do\n\
         \x20           w=${{COMP_WORDS[i]}}\n\
         \x20           case $w in\n\
         \x20               --) (( i += 1 )); break ;;\n\
         {skip_value}\
         \x20               -*) ;;\n\
         \x20               *) break ;;\n\
         \x20           esac\n\
         \x20           (( i += 1 ))\n\
         \x20       done\n\
         \x20       if (( i == COMP_CWORD )) && [[ $cur != -* ]]; then\n\
         \x20           COMPREPLY=($(compgen -c -- \"$cur\" | LC_ALL=C sort -u)); return 0\n\
         \x20       fi\n\
         \x20       if (( i < COMP_CWORD )) && declare -F _command_offset >/dev/null; then\n\
         \x20           _command_offset $i; return 0\n\
         \x20       fi\n\
         \x20   fi\n",
        applet = p.applet
    );
}

fn bash_addition(
    name: &str,
    targets: &[(String, Vec<DynArg>)],
    programs: &[ProgramTarget],
) -> String {
    let clap_fn = format!("_{}", name.replace('-', "__"));
    let wrapper = format!("_nstools_dynamic_{}", name.replace('-', "_"));
    let mut s = format!(
        "\n# Values known only at run time (process ids, names in /run/netns) and\n\
         # the program an applet runs.\n\
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
    for p in programs {
        bash_program(&mut s, p);
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
