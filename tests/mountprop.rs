//! `mountprop` run for real: every test makes its own mount namespace
//! (util-linux's `unshare -m`, so a fault of ours cannot leak), mounts
//! tmpfs there, and checks what the kernel records in mountinfo.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Run `body` with bash inside a new private mount namespace; `$D` is a
/// fresh scratch directory and `$MP` our applet.
fn in_mount_ns(tag: &str, body: &str) -> (Run, PathBuf) {
    let (file, dir) = script(tag, body);
    let r = sh(&format!(
        "exec /usr/bin/unshare -m --propagation private bash -eu {}",
        file.display()
    ));
    (r, dir)
}

/// The same, as uid 65534 inside a new user namespace (`unshare -rm`).
fn in_mount_ns_as_nobody(tag: &str, body: &str) -> (Run, PathBuf) {
    let (file, dir) = script(tag, body);
    let r = sh_as_nobody(&format!(
        "exec /usr/bin/unshare -rm --propagation private bash -eu {}",
        file.display()
    ));
    (r, dir)
}

fn script(tag: &str, body: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(tag);
    let file = dir.join("script.sh");
    let text = format!(
        "D={}\nMP={}\nmkdir -p $D/a $D/b $D/c $D/plain\n{body}\n",
        dir.display(),
        applet("mountprop").display()
    );
    std::fs::write(&file, text).unwrap();
    set_mode(&file, 0o644);
    (file, dir)
}

/// Split a script's output at lines `== NAME ==` into named sections.
fn sections(out: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut name = String::new();
    for line in out.split_inclusive('\n') {
        if let Some(n) = line
            .strip_prefix("== ")
            .and_then(|l| l.trim_end().strip_suffix(" =="))
        {
            name = n.to_string();
            map.insert(name.clone(), String::new());
        } else {
            map.entry(name.clone()).or_default().push_str(line);
        }
    }
    map
}

/// `\ooo` decoding, written again here so the test does not trust ours.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(n) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// One mountinfo line, as the kernel wrote it.
#[derive(Debug, Clone)]
struct Info {
    id: u64,
    parent: u64,
    root: String,
    target: String,
    tags: Vec<String>,
    fstype: String,
    source: String,
}

impl Info {
    /// The PROPAGATION column mountprop must print for it.
    fn propagation(&self) -> String {
        let known: Vec<&str> = ["shared:", "master:", "propagate_from:", "unbindable"]
            .iter()
            .flat_map(|k| self.tags.iter().filter(move |t| t.starts_with(k)))
            .map(String::as_str)
            .collect();
        if known.is_empty() {
            "private".into()
        } else {
            known.join(",")
        }
    }

    fn tag(&self, name: &str) -> Option<String> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix(&format!("{name}:")).map(String::from))
    }
}

fn mountinfo(text: &str) -> Vec<Info> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|w| *w == "-").unwrap();
            Info {
                id: f[0].parse().unwrap(),
                parent: f[1].parse().unwrap(),
                root: unescape(f[3]),
                target: unescape(f[4]),
                tags: f[6..sep].iter().map(|s| s.to_string()).collect(),
                fstype: unescape(f[sep + 1]),
                source: unescape(f[sep + 2]),
            }
        })
        .collect()
}

fn by_target<'a>(infos: &'a [Info], target: &Path) -> &'a Info {
    let t = target.to_str().unwrap();
    infos
        .iter()
        .rev()
        .find(|i| i.target == t)
        .unwrap_or_else(|| panic!("no mount at {t} in {infos:#?}"))
}

/// The script that sets every kind and reads it back three ways.
const EVERY_KIND: &str = r#"
mount -t tmpfs mp-a $D/a
mount -t tmpfs gone $D/plain         # its id is freed below, for plain to reuse:
mount -t tmpfs mp-b $D/b             # then the table order and the id order differ
mount -t tmpfs mp-c $D/c
umount $D/plain
$MP set shared $D/a
mount --bind $D/a $D/plain          # a peer of a
$MP set slave $D/plain               # now master:<a's group>
$MP set shared $D/plain              # shared:M,master:N
$MP set unbindable $D/b
$MP set shared $D/c
$MP set private $D/c
echo "== get =="
for p in a b c plain; do $MP get $D/$p; done
echo "== list =="
$MP -ln -o ID,PARENT,PEER,MASTER,FROM,PROPAGATION,MODE,FSTYPE,SOURCE,FSROOT
echo "== mountinfo =="
cat /proc/self/mountinfo
echo "== ours =="
$MP -n -o TARGET,MODE
echo "== findmnt =="
findmnt -n -o TARGET,PROPAGATION
echo "== ours-list =="
$MP -ln -o TARGET,MODE
echo "== findmnt-list =="
findmnt -ln -o TARGET,PROPAGATION
"#;

fn check_every_kind(r: &Run, dir: &Path) {
    r.assert_ok();
    let s = sections(&r.stdout);
    let infos = mountinfo(&s["mountinfo"]);
    let a = by_target(&infos, &dir.join("a"));
    let b = by_target(&infos, &dir.join("b"));
    let c = by_target(&infos, &dir.join("c"));
    let plain = by_target(&infos, &dir.join("plain"));
    // The kernel's record of what `set` did.
    let group = a.tag("shared").expect("a is shared");
    assert_eq!(plain.tag("master"), Some(group.clone()), "{plain:?}");
    assert!(plain.tag("shared").is_some_and(|g| g != group), "{plain:?}");
    assert!(b.tags.contains(&"unbindable".to_string()), "{b:?}");
    assert_eq!(c.propagation(), "private");
    // get: one line, PROPAGATION and mount point.
    let expect_get: Vec<String> = [a, b, c, plain]
        .iter()
        .map(|i| format!("{} {}", i.propagation(), i.target))
        .collect();
    assert_eq!(s["get"].lines().collect::<Vec<_>>(), expect_get);
    // list: every mount, field by field.
    let rows: Vec<Vec<&str>> = s["list"]
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), infos.len());
    for (row, info) in rows.iter().zip(&infos) {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let mut want = vec![
            info.id.to_string(),
            info.parent.to_string(),
            opt(info.tag("shared")),
            opt(info.tag("master")),
            opt(info.tag("propagate_from")),
            info.propagation(),
        ];
        want.retain(|w| !w.is_empty());
        let got: Vec<String> = row[..want.len()].iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "row {row:?} for {info:?}");
        assert_eq!(row[want.len() + 1], info.fstype);
        assert_eq!(row[want.len() + 2], info.source);
        assert_eq!(row[want.len() + 3], info.root);
    }
    let modes: BTreeMap<&str, &str> = s["ours-list"]
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(t, m)| (t.trim_end(), m))
        .collect();
    assert_eq!(modes[a.target.as_str()], "shared");
    assert_eq!(modes[plain.target.as_str()], "shared,slave");
    assert_eq!(modes[b.target.as_str()], "private,unbindable");
    assert_eq!(modes[c.target.as_str()], "private");
    // MODE is findmnt's spelling, tree and list alike.
    assert_eq!(s["ours"], s["findmnt"]);
    assert_eq!(s["ours-list"], s["findmnt-list"]);
}

#[test]
fn set_every_kind_reads_back_in_list_get_and_mountinfo() {
    let (r, dir) = in_mount_ns("mp-kinds", EVERY_KIND);
    check_every_kind(&r, &dir);
}

#[test]
fn set_every_kind_as_unprivileged_user_in_a_user_namespace() {
    let (r, dir) = in_mount_ns_as_nobody("mp-kinds-nobody", EVERY_KIND);
    check_every_kind(&r, &dir);
}

#[test]
fn set_slave_of_a_private_mount_is_private() {
    let (r, dir) = in_mount_ns(
        "mp-slave",
        "mount -t tmpfs x $D/a\n$MP set slave $D/a\n$MP get $D/a\ngrep \" $D/a \" /proc/self/mountinfo",
    );
    r.assert_ok();
    assert_eq!(
        r.stdout.lines().next().unwrap(),
        format!("private {}", dir.join("a").display())
    );
}

const RECURSIVE: &str = r#"
mount -t tmpfs top $D/a
mkdir $D/a/sub
mount -t tmpfs sub $D/a/sub
$MP set shared $D/a
echo "== plain =="
cat /proc/self/mountinfo
$MP set shared -r $D/a
$MP set private $D/a
echo "== rec =="
cat /proc/self/mountinfo
$MP set private --recursive $D/a
echo "== rec-private =="
cat /proc/self/mountinfo
"#;

fn check_recursive(r: &Run, dir: &Path) {
    r.assert_ok();
    let s = sections(&r.stdout);
    let (top, sub) = (dir.join("a"), dir.join("a/sub"));
    let plain = mountinfo(&s["plain"]);
    assert!(by_target(&plain, &top).tag("shared").is_some());
    assert_eq!(by_target(&plain, &sub).propagation(), "private");
    let rec = mountinfo(&s["rec"]);
    assert_eq!(by_target(&rec, &top).propagation(), "private");
    assert!(by_target(&rec, &sub).tag("shared").is_some());
    let rec = mountinfo(&s["rec-private"]);
    assert_eq!(by_target(&rec, &sub).propagation(), "private");
}

#[test]
fn set_recursive_reaches_submounts_and_plain_set_does_not() {
    let (r, dir) = in_mount_ns("mp-rec", RECURSIVE);
    check_recursive(&r, &dir);
}

#[test]
fn set_recursive_as_unprivileged_user_in_a_user_namespace() {
    let (r, dir) = in_mount_ns_as_nobody("mp-rec-nobody", RECURSIVE);
    check_recursive(&r, &dir);
}

#[test]
fn list_path_shows_that_mount_and_those_below_as_a_tree() {
    let (r, dir) = in_mount_ns(
        "mp-tree",
        r#"
mount -t tmpfs top $D/a
mkdir $D/a/x $D/a/y
mount -t tmpfs x $D/a/x
mount -t tmpfs y $D/a/y
mkdir $D/a/x/deep
mount -t tmpfs deep $D/a/x/deep
mount -t tmpfs other $D/b
LC_ALL=C.UTF-8 $MP -o TARGET,SOURCE $D/a
echo "== ascii =="
LC_ALL=C $MP -n -o TARGET $D/a/x
"#,
    );
    r.assert_ok();
    let d = dir.display();
    let s = sections(&r.stdout);
    let rows = [
        (format!("{d}/a"), "top"),
        (format!("├─{d}/a/x"), "x"),
        (format!("│ └─{d}/a/x/deep"), "deep"),
        (format!("└─{d}/a/y"), "y"),
    ];
    // Columns are padded to the widest cell, counted in characters.
    let w = rows.iter().map(|(t, _)| t.chars().count()).max().unwrap();
    let mut want = format!("{:<w$} SOURCE\n", "TARGET");
    for (t, src) in &rows {
        want.push_str(&format!("{t:<w$} {src}\n"));
    }
    assert_eq!(s[""], want);
    assert_eq!(s["ascii"], format!("{d}/a/x\n`-{d}/a/x/deep\n"));
}

#[test]
fn names_with_spaces_and_newlines_are_decoded() {
    let (r, dir) = in_mount_ns(
        "mp-names",
        r#"
mkdir "$D/sp ace" "$D/new
line"
mount -t tmpfs "src with space" "$D/sp ace"
mount -t tmpfs nl "$D/new
line"
$MP set shared "$D/sp ace"
$MP get "$D/sp ace"
$MP get "$D/new
line"
echo "== list =="
$MP -ln -o TARGET,SOURCE $D
echo "== json =="
$MP -J -l -o TARGET,SOURCE,PROPAGATION $D | jq -c '.mounts[] | [.target, .source, .propagation]'
echo "== mountinfo =="
cat /proc/self/mountinfo
"#,
    );
    r.assert_ok();
    let d = dir.display();
    let s = sections(&r.stdout);
    let infos = mountinfo(&s["mountinfo"]);
    let space = by_target(&infos, &dir.join("sp ace"));
    assert_eq!(space.source, "src with space");
    let newline = by_target(&infos, &dir.join("new\nline"));
    assert_eq!(
        s[""],
        format!(
            "{} {d}/sp ace\nprivate {d}/new\\x0aline\n",
            space.propagation()
        )
    );
    let row = |target: String, source: &str| {
        s["list"].lines().any(|l| {
            l.strip_prefix(&target)
                .is_some_and(|rest| rest.starts_with(' ') && rest.trim_start() == source)
        })
    };
    assert!(
        row(format!("{d}/sp ace"), "src with space"),
        "{}",
        s["list"]
    );
    assert!(row(format!("{d}/new\\x0aline"), "nl"), "{}", s["list"]);
    let json: Vec<&str> = s["json"].lines().collect();
    assert!(
        json.contains(
            &format!(
                r#"["{d}/sp ace","src with space","{}"]"#,
                space.propagation()
            )
            .as_str()
        ),
        "{json:?}"
    );
    assert!(
        json.contains(&format!(r#"["{d}/new\nline","nl","{}"]"#, newline.propagation()).as_str()),
        "{json:?}"
    );
}

#[test]
fn json_holds_the_same_facts_as_mountinfo() {
    let (r, _dir) = in_mount_ns(
        "mp-json",
        r#"
mount -t tmpfs a $D/a
mount -t tmpfs b $D/a
$MP set shared $D/a
mount --bind $D/a $D/b
$MP set slave $D/b
echo "== flat =="
$MP -J -l -o ID,PARENT,PEER,MASTER,FROM,PROPAGATION,TARGET | jq -c '.mounts[] | [.id, .parent, .peer, .master, .from, .propagation, .target]'
echo "== tree =="
$MP -J -o ID,PARENT | jq -c '[.. | objects | select(has("id"))] | map([.id, .parent]) | sort'
echo "== tree-parents =="
$MP -J -o ID | jq -c '[.. | objects | select(has("children")) | . as $p | .children[] | [.id, $p.id]] | sort'
echo "== all-columns =="
$MP --output-all -J -l | jq -c '[.mounts[] | keys | length] | unique'
echo "== mountinfo =="
cat /proc/self/mountinfo
"#,
    );
    r.assert_ok();
    let s = sections(&r.stdout);
    assert_eq!(s["all-columns"], "[14]\n");
    let infos = mountinfo(&s["mountinfo"]);
    let num = |v: Option<String>| v.unwrap_or_else(|| "null".into());
    let want: Vec<String> = infos
        .iter()
        .map(|i| {
            format!(
                r#"[{},{},{},{},{},"{}","{}"]"#,
                i.id,
                i.parent,
                num(i.tag("shared")),
                num(i.tag("master")),
                num(i.tag("propagate_from")),
                i.propagation(),
                i.target
            )
        })
        .collect();
    assert_eq!(s["flat"].lines().collect::<Vec<_>>(), want);
    let mut pairs: Vec<(u64, u64)> = infos.iter().map(|i| (i.id, i.parent)).collect();
    pairs.sort();
    let want = format!(
        "[{}]\n",
        pairs
            .iter()
            .map(|(a, b)| format!("[{a},{b}]"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(s["tree"], want);
    // Every child in the JSON tree hangs under its parent mount.
    let ids: Vec<u64> = infos.iter().map(|i| i.id).collect();
    let mut nested: Vec<(u64, u64)> = infos
        .iter()
        .filter(|i| ids.contains(&i.parent) && i.parent != i.id)
        .map(|i| (i.id, i.parent))
        .collect();
    nested.sort();
    let want = format!(
        "[{}]\n",
        nested
            .iter()
            .map(|(a, b)| format!("[{a},{b}]"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(s["tree-parents"], want);
}

const PEERS: &str = r#"
mount -t tmpfs a $D/a
mkdir $D/a/sub
$MP set shared $D/a
mount --bind $D/a $D/b
$MP set slave $D/b
/usr/bin/unshare -m --propagation unchanged sleep 30 &
pid=$!
for i in $(seq 200); do
  [ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break
  sleep 0.05
done
echo "== ids =="
echo $pid $(stat -L -c %i /proc/$pid/ns/mnt) $(stat -L -c %i /proc/self/ns/mnt)
echo "== here =="
$MP peers -n $D/a/sub
echo "== all =="
$MP peers -n --all-namespaces $D/a/sub
echo "== json =="
$MP peers -J --all-namespaces $D/a | jq -c '.peers[] | [.relation, .ns, .pid, .target, .at]'
echo "== slave =="
$MP peers -n -a $D/b
echo "== other =="
grep " $D/a " /proc/$pid/mountinfo
echo "== mountinfo =="
cat /proc/self/mountinfo
kill $pid
"#;

#[test]
fn peers_finds_a_peer_in_another_namespace_and_a_slave() {
    let (r, dir) = in_mount_ns("mp-peers", PEERS);
    check_peers(&r, &dir);
}

#[test]
fn peers_as_unprivileged_user_sees_its_own_namespaces() {
    let (r, dir) = in_mount_ns_as_nobody("mp-peers-nobody", PEERS);
    check_peers(&r, &dir);
}

fn check_peers(r: &Run, dir: &Path) {
    r.assert_ok();
    let s = sections(&r.stdout);
    let ids: Vec<u64> = s["ids"]
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    let (pid, other_ns, my_ns) = (ids[0], ids[1], ids[2]);
    assert_ne!(other_ns, my_ns);
    let infos = mountinfo(&s["mountinfo"]);
    let a = by_target(&infos, &dir.join("a"));
    let b = by_target(&infos, &dir.join("b"));
    let theirs = &mountinfo(&s["other"])[0];
    // The kernel's record: the copy in the other namespace is a peer.
    assert_eq!(theirs.tag("shared"), a.tag("shared"));
    let (ad, bd) = (dir.join("a"), dir.join("b"));
    let (ad, bd) = (ad.display(), bd.display());
    let rows = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    };
    let row = |rel: &str, ns: u64, id: u64, target: &str, at: &str, prop: String| {
        let pid = if ns == my_ns {
            None
        } else {
            Some(pid.to_string())
        };
        (
            rel.to_string(),
            ns.to_string(),
            pid,
            id.to_string(),
            target.to_string(),
            at.to_string(),
            prop,
        )
    };
    let shape = |r: &Vec<String>| {
        (
            r[0].clone(),
            r[1].clone(),
            (r[1] != my_ns.to_string()).then(|| r[2].clone()),
            r[3].clone(),
            r[4].clone(),
            r[5].clone(),
            r[6].clone(),
        )
    };
    let here: Vec<_> = rows(&s["here"]).iter().map(shape).collect();
    assert_eq!(
        here,
        [
            row(
                "self",
                my_ns,
                a.id,
                &ad.to_string(),
                &format!("{ad}/sub"),
                a.propagation()
            ),
            row(
                "slave",
                my_ns,
                b.id,
                &bd.to_string(),
                &format!("{bd}/sub"),
                b.propagation()
            ),
        ]
    );
    let all: Vec<_> = rows(&s["all"]).iter().map(shape).collect();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(
        all[1],
        row(
            "peer",
            other_ns,
            theirs.id,
            &ad.to_string(),
            &format!("{ad}/sub"),
            theirs.propagation()
        )
    );
    assert!(
        s["json"].contains(&format!(r#"["peer",{other_ns},{pid},"{ad}","{ad}"]"#)),
        "{}",
        s["json"]
    );
    // The reverse: the slave receives from a, in both namespaces.
    let slave: Vec<_> = rows(&s["slave"]).iter().map(shape).collect();
    let rels: Vec<(&str, &str)> = slave.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    let (my, other) = (my_ns.to_string(), other_ns.to_string());
    assert_eq!(
        rels,
        [
            ("self", my.as_str()),
            ("master", my.as_str()),
            ("master", other.as_str())
        ]
    );
}

#[test]
fn set_refuses_a_path_that_is_not_a_mount_point_and_bind_self_makes_one() {
    let (r, dir) = in_mount_ns(
        "mp-notmp",
        r#"
mount -t tmpfs a $D/a
set +e
$MP set shared $D/a $D/plain 2>&1
echo "rc=$?"
set -e
echo "== after-refusal =="
cat /proc/self/mountinfo
$MP set shared --bind-self $D/plain
echo "== after-bind =="
cat /proc/self/mountinfo
"#,
    );
    r.assert_ok();
    let s = sections(&r.stdout);
    let plain = dir.join("plain");
    assert!(
        s[""].contains(&format!("{} is not a mount point", plain.display())),
        "{}",
        s[""]
    );
    assert!(s[""].contains("mount --bind"), "{}", s[""]);
    assert!(s[""].ends_with("rc=1\n"), "{}", s[""]);
    // Nothing changed: not even the valid path before the bad one.
    let before = mountinfo(&s["after-refusal"]);
    assert_eq!(by_target(&before, &dir.join("a")).propagation(), "private");
    assert!(!before.iter().any(|i| Path::new(&i.target) == plain));
    let after = mountinfo(&s["after-bind"]);
    assert!(by_target(&after, &plain).tag("shared").is_some());
}

#[test]
fn set_without_privilege_is_refused_and_changes_nothing() {
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let r = run_as_nobody("mountprop", &["set", "shared", "/"]);
    r.assert_code(1);
    assert!(r.stderr.starts_with("mountprop: "), "{}", r.stderr);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = |t: &str| {
        mountinfo(t)
            .into_iter()
            .find(|i| i.target == "/")
            .unwrap()
            .tags
    };
    assert_eq!(root(&before), root(&after));
}

#[test]
fn errors_say_what_failed_and_exit_1() {
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "unknown command or path 'frobnicate'"),
        (&["get"], "missing argument"),
        (&["set", "shared"], "missing argument"),
        (&["peers"], "missing argument"),
        (&["set", "sideways", "/"], "unknown propagation 'sideways'"),
        (
            &["get", "/no/such/path"],
            "cannot access /no/such/path: No such file or directory",
        ),
        (
            &["set", "private", "/no/such/path"],
            "cannot access /no/such/path",
        ),
        (&["peers", "/no/such/path"], "cannot access /no/such/path"),
        (&["-t", "999999999"], "PID 999999999: No such process"),
        (
            &["peers", "-t", "999999999", "/"],
            "PID 999999999: No such process",
        ),
        (
            &["get", "-t", "999999999", "/"],
            "PID 999999999: No such process",
        ),
        (&["-o", "TARGET,NOPE"], "unknown column: 'NOPE'"),
        (&["--bogus"], "unrecognized option '--bogus'"),
    ];
    for (args, want) in cases {
        let r = run("mountprop", args);
        r.assert_code(1);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.starts_with("mountprop: "),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn task_reads_another_process_namespace() {
    let (r, dir) = in_mount_ns(
        "mp-task",
        r#"
/usr/bin/unshare -m --propagation unchanged bash -c "mount -t tmpfs theirs $D/c; exec sleep 30" &
pid=$!
for i in $(seq 200); do grep -q " $D/c " /proc/$pid/mountinfo 2>/dev/null && break; sleep 0.05; done
$MP get -t $pid $D/c
$MP get $D/c
$MP -ln -o TARGET,SOURCE -t $pid $D/c
set +e
$MP get /proc/$pid/root$D/c 2>&1; echo "rc=$?"
$MP set private /proc/$pid/root$D/c 2>&1; echo "rc=$?"
set -e
kill $pid
"#,
    );
    r.assert_ok();
    let c = dir.join("c");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], format!("private {}", c.display()));
    assert!(!lines[1].ends_with(&c.display().to_string()), "{lines:?}");
    assert_eq!(lines[2], format!("{} theirs", c.display()));
    // Their mount, reached through /proc/PID/root, is not ours to read or change.
    assert!(
        lines[3].contains("of another mount namespace (see it with -t PID)"),
        "{lines:?}"
    );
    assert_eq!(lines[4], "rc=1");
    assert!(
        lines[5].contains("of another mount namespace (enter it first"),
        "{lines:?}"
    );
    assert_eq!(lines[6], "rc=1");
}

#[test]
fn task_of_a_process_we_may_not_inspect_is_permission_denied() {
    let r = run_as_nobody("mountprop", &["get", "-t", "1", "/"]);
    r.assert_code(1);
    assert_eq!(
        r.stderr,
        "mountprop: cannot access / as PID 1 sees it: Permission denied\n"
    );
    assert!(r.stdout.is_empty());
}

/// `propagate_from:N` shows only to a process whose root hides its master
/// group: here a chroot holding a slave (z) of a group (y) that lives
/// outside, itself a slave of a group (x) that is inside. `-t` reads the
/// chrooted process's view, symlinks included.
#[test]
fn propagate_from_is_read_for_a_chrooted_process() {
    let (r, _dir) = in_mount_ns(
        "mp-from",
        r#"
R=$D/c
mount -t tmpfs root $R
mkdir $R/usr $R/x $R/z
ln -s usr/bin $R/bin; ln -s usr/lib $R/lib; ln -s usr/lib64 $R/lib64
mount --rbind /usr $R/usr
mount -t tmpfs shared-x $R/x
$MP set shared $R/x
mount --bind $R/x $D/b
$MP set slave $D/b
$MP set shared $D/b
mount --bind $D/b $R/z
$MP set slave $R/z
chroot $R /usr/bin/sleep 30 &
pid=$!
for i in $(seq 200); do [ "$(readlink /proc/$pid/root)" = "$R" ] && break; sleep 0.05; done
$MP -t $pid -ln -o ID,PROPAGATION,FROM,MASTER,TARGET
echo "== link =="
ln -s /x $R/link
$MP get -t $pid /link/
echo "== mountinfo =="
cat /proc/$pid/mountinfo
kill $pid
"#,
    );
    r.assert_ok();
    let s = sections(&r.stdout);
    let infos = mountinfo(&s["mountinfo"]);
    let z = infos.iter().find(|i| i.target == "/z").unwrap();
    let x = infos.iter().find(|i| i.target == "/x").unwrap();
    assert_eq!(z.tag("propagate_from"), x.tag("shared"), "{z:?}");
    assert!(z.propagation().contains(",propagate_from:"), "{z:?}");
    let row: Vec<&str> = s[""]
        .lines()
        .find(|l| l.ends_with(" /z"))
        .unwrap()
        .split_whitespace()
        .collect();
    let want = [
        z.id.to_string(),
        z.propagation(),
        z.tag("propagate_from").unwrap(),
        z.tag("master").unwrap(),
        "/z".to_string(),
    ];
    assert_eq!(row, want);
    // An absolute symlink resolves inside the process's root, not ours.
    assert_eq!(s["link"], format!("{} /x\n", x.propagation()));
}

/// A slave bound from a subdirectory receives only events under that
/// subdirectory: AT says where, or `-`.
#[test]
fn peers_at_follows_a_slave_bound_from_a_subdirectory() {
    let (r, dir) = in_mount_ns(
        "mp-at",
        r#"
mount -t tmpfs a $D/a
mkdir -p $D/a/sub/x $D/a/other
$MP set shared $D/a
mount --bind $D/a/sub $D/b
$MP set slave $D/b
$MP peers -n $D/a/sub/x
echo "== other =="
$MP peers -n $D/a/other
echo "== from-slave =="
$MP peers -n $D/b/x
"#,
    );
    r.assert_ok();
    let s = sections(&r.stdout);
    let cols = |text: &str| -> Vec<(String, String, String)> {
        text.lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[0].to_string(), w[4].to_string(), w[5].to_string())
            })
            .collect()
    };
    let d = dir.display();
    let t =
        |r: &str, target: &str, at: &str| (r.to_string(), format!("{d}/{target}"), at.to_string());
    assert_eq!(
        cols(&s[""]),
        [
            t("self", "a", &format!("{d}/a/sub/x")),
            t("slave", "b", &format!("{d}/b/x"))
        ]
    );
    assert_eq!(
        cols(&s["other"]),
        [
            t("self", "a", &format!("{d}/a/other")),
            t("slave", "b", "-")
        ]
    );
    assert_eq!(
        cols(&s["from-slave"]),
        [
            t("self", "b", &format!("{d}/b/x")),
            t("master", "a", &format!("{d}/a/sub/x"))
        ]
    );
}

#[test]
fn a_full_stdout_is_an_error_and_a_closed_one_is_not() {
    let r = sh("mountprop > /dev/full; echo rc=$?");
    assert_eq!(r.stdout, "rc=1\n");
    assert_eq!(
        r.stderr,
        "mountprop: write error: No space left on device\n"
    );
    // Enough mounts that the output outgrows the pipe before head exits.
    let (r, _dir) = in_mount_ns(
        "mp-pipe",
        r#"
python3 - $D/a <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for i in range(3000):
    d = f"{sys.argv[1]}/m{i}"
    os.mkdir(d)
    assert libc.mount(b"tmpfs", d.encode(), b"tmpfs", 0, None) == 0, os.strerror(ctypes.get_errno())
PY
[ $($MP -n | wc -c) -gt 200000 ]
$MP -o TARGET | head -1
echo "rc=${PIPESTATUS[0]}"
"#,
    );
    r.assert_ok();
    // A closed pipe ends us as it ends findmnt: by SIGPIPE (128+13), silently.
    assert_eq!(r.stdout, "TARGET\nrc=141\n");
    assert_eq!(r.stderr, "");
}
