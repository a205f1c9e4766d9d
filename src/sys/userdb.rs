//! The user and group databases, safe in a statically linked binary.
//!
//! The release binary is linked statically (no dynamic loader at start-up),
//! and glibc's getpwnam(3) would then dlopen the NSS modules that
//! `/etc/nsswitch.conf` names (`systemd`, `sss`, `ldap`): a second libc in
//! the process, which crashes. So the C library is never asked: names are
//! looked up in `/etc/passwd` and `/etc/group` here, and one found in
//! neither is asked of `getent(1)`, which runs every configured service in
//! a process of its own (never with raised privileges: a privileged helper
//! reads /etc only).

use std::process::{Command, Stdio};

use super::{Error, Result};

/// One of the two databases.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Db {
    Passwd,
    Group,
}

impl Db {
    /// The name nsswitch.conf and getent use.
    pub fn name(self) -> &'static str {
        match self {
            Db::Passwd => "passwd",
            Db::Group => "group",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Db::Passwd => "/etc/passwd",
            Db::Group => "/etc/group",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Db::Passwd => "user",
            Db::Group => "group",
        }
    }
}

/// A user given as a number or a name: its uid.
pub fn user_id(word: &str) -> Result<u32> {
    id_of(Db::Passwd, word)
}

/// A group given as a number or a name: its gid.
pub fn group_id(word: &str) -> Result<u32> {
    id_of(Db::Group, word)
}

fn id_of(db: Db, word: &str) -> Result<u32> {
    if let Some(id) = numeric_id(word) {
        return Ok(id);
    }
    let not_found = || Error::invalid(format!("'{word}'"), format!("no such {}", db.noun()));
    if word.is_empty() || word.contains([':', '\n', '\0']) {
        return Err(not_found());
    }
    if let Ok(text) = std::fs::read_to_string(db.file()) {
        if let Some(id) = text.lines().find_map(|l| id_in_line(l, word)) {
            return Ok(id);
        }
    }
    if has_other_services(db) {
        if let Some(id) = ask_getent(db, word) {
            return Ok(id);
        }
    }
    Err(not_found())
}

/// The name of user `uid` (for matching `/etc/subuid` by name, as
/// newuidmap does): `/etc/passwd` first, then the other NSS services
/// through getent, as for [`user_id`].
pub fn user_name(uid: u32) -> Option<String> {
    name_of(Db::Passwd, uid)
}

/// The name of group `gid`.
pub fn group_name(gid: u32) -> Option<String> {
    name_of(Db::Group, gid)
}

/// The name and primary group of user `uid` (newuidmap matches
/// `/etc/subuid` by name; newgidmap also needs the group): `/etc/passwd`
/// first, then the other NSS services through getent unless we run with
/// raised privileges.
pub fn passwd_entry(uid: u32) -> Option<(String, u32)> {
    let find = |text: &str| text.lines().find_map(|l| passwd_fields(l, uid));
    if let Ok(text) = std::fs::read_to_string(Db::Passwd.file()) {
        if let Some(entry) = find(&text) {
            return Some(entry);
        }
    }
    if super::creds::is_raised() || !has_other_services(Db::Passwd) {
        return None;
    }
    find(&getent(Db::Passwd, &uid.to_string())?)
}

/// The name and primary gid on a `passwd` line, if the line is well formed
/// and gives uid `uid`.
pub fn passwd_fields(line: &str, uid: u32) -> Option<(String, u32)> {
    let name = name_in_line(line, uid)?;
    let gid = numeric_id(line.split(':').nth(3)?)?;
    Some((name.to_string(), gid))
}

fn name_of(db: Db, id: u32) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(db.file()) {
        if let Some(name) = text.lines().find_map(|l| name_in_line(l, id)) {
            return Some(name.to_string());
        }
    }
    if !has_other_services(db) {
        return None;
    }
    let text = getent(db, &id.to_string())?;
    text.lines()
        .find_map(|l| name_in_line(l, id))
        .map(str::to_string)
}

/// The name on a `passwd` or `group` line if the line is well formed and
/// gives id `id`.
pub fn name_in_line(line: &str, id: u32) -> Option<&str> {
    let name = line.split(':').next()?;
    (!name.is_empty() && id_in_line(line, name) == Some(id)).then_some(name)
}

/// A decimal id, as the kernel takes it (`(uid_t)-1` is no id).
fn numeric_id(word: &str) -> Option<u32> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse::<u32>().ok().filter(|&id| id != u32::MAX)
}

/// The id on a `passwd` or `group` line (`name:password:id:...`) if the line
/// is `name`'s and well formed.
pub fn id_in_line(line: &str, name: &str) -> Option<u32> {
    let mut fields = line.split(':');
    if fields.next()? != name {
        return None;
    }
    let _password = fields.next()?;
    numeric_id(fields.next()?)
}

/// Whether nsswitch.conf names a service other than `files` for `db`
/// (without the file, glibc uses files alone for these two).
fn has_other_services(db: Db) -> bool {
    let Ok(conf) = std::fs::read_to_string("/etc/nsswitch.conf") else {
        return false;
    };
    services_beyond_files(&conf, db.name())
}

/// Whether the `db:` line of an nsswitch.conf text lists a service other
/// than `files` (actions in brackets are not services).
pub fn services_beyond_files(conf: &str, db: &str) -> bool {
    conf.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| l.trim().split_once(':'))
        .filter(|(name, _)| name.trim() == db)
        .any(|(_, services)| {
            let mut in_action = false;
            services.split_whitespace().any(|word| {
                if word.starts_with('[') {
                    in_action = true;
                }
                let service = !in_action && word != "files";
                if word.ends_with(']') {
                    in_action = false;
                }
                service
            })
        })
}

/// Look `word` up through every configured service with `getent`, run with
/// an empty environment from its fixed path. `None` when it is not there or
/// finds nothing.
fn ask_getent(db: Db, word: &str) -> Option<u32> {
    let text = getent(db, word)?;
    text.lines().find_map(|l| id_in_line(l, word))
}

/// `getent DB KEY`'s output, if it found anything.
fn getent(db: Db, key: &str) -> Option<String> {
    let getent = ["/usr/bin/getent", "/bin/getent"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let out = Command::new(getent)
        .args([db.name(), "--", key])
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_its_id_only_to_its_own_name() {
        assert_eq!(id_in_line("root:x:0:0:root:/root:/bin/sh", "root"), Some(0));
        assert_eq!(id_in_line("nogroup:x:65534:", "nogroup"), Some(65534));
        assert_eq!(id_in_line("rooty:x:5:5::/:/bin/sh", "root"), None);
        assert_eq!(id_in_line("root:x:abc:0", "root"), None);
        assert_eq!(id_in_line("root:x:4294967295:0", "root"), None);
        assert_eq!(id_in_line("root:x", "root"), None);
        assert_eq!(id_in_line("", "root"), None);
    }

    #[test]
    fn a_line_gives_its_name_only_for_its_own_id() {
        assert_eq!(
            name_in_line("root:x:0:0:root:/root:/bin/sh", 0),
            Some("root")
        );
        assert_eq!(name_in_line("root:x:0:0:root:/root:/bin/sh", 1), None);
        assert_eq!(name_in_line(":x:0:0", 0), None);
        assert_eq!(name_in_line("a:x:01", 1), Some("a"));
        assert_eq!(name_in_line("a:x", 1), None);
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn passwd_lines_give_name_and_primary_group() {
        let text = "root:x:0:0:root:/root:/bin/bash\n+nis\nbad:x:y:1::/:\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nodd:x:7:g::/:\n";
        let find = |uid| text.lines().find_map(|l| passwd_fields(l, uid));
        assert_eq!(find(0), Some(("root".into(), 0)));
        assert_eq!(find(65534), Some(("nobody".into(), 65534)));
        assert_eq!(find(1000), None);
        assert_eq!(find(7), None);
        assert_eq!(passwd_entry(0).map(|(n, _)| n).as_deref(), Some("root"));
    }

    #[test]
    fn numbers_are_ids_without_a_lookup() {
        assert_eq!(user_id("1234").unwrap(), 1234);
        assert_eq!(group_id("0").unwrap(), 0);
        assert!(user_id("12x").is_err());
        assert!(user_id("").is_err());
        assert!(user_id("a:b").is_err());
        assert!(user_id("4294967295").is_err());
    }

    #[test]
    fn nsswitch_services_beyond_files_are_seen() {
        let conf =
            "# comment\npasswd:  files systemd\ngroup: files [NOTFOUND=return] \nshadow: files\n";
        assert!(services_beyond_files(conf, "passwd"));
        assert!(!services_beyond_files(conf, "group"));
        assert!(!services_beyond_files(conf, "shadow"));
        assert!(!services_beyond_files(conf, "hosts"));
        assert!(services_beyond_files("group: sss files\n", "group"));
        assert!(services_beyond_files(
            "passwd: files [!UNAVAIL=return] ldap",
            "passwd"
        ));
    }
}
