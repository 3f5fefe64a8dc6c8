//! `cargo share package --format deb` checked with Debian's own tools, for the `update` fixture
//! (`fix-one` and `fix-two` share `fixlib` and `fixuser`, one group, and libstd): `dpkg-deb`
//! reads every package, `lintian` finds no error, and apt installs them from a local repository
//! (`dpkg-scanpackages`, a `file:` source) into a private root (`apt-get` with its own
//! configuration, `dpkg --root`), where both programs run. The shared packages come in as
//! automatically installed dependencies; removing the programs and `apt-get autoremove` leaves
//! no file. A body-only fix of fixlib (`--patch`) writes one new package, which is all
//! `apt-get upgrade` takes.
//!
//! The private root holds, besides the packages, only the dpkg status of glibc's and libgcc's
//! packages copied from this machine (the packages depend on them; their files are this
//! machine's), so nothing outside the scratch directory changes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

const MAINTAINER: &str = "CI <ci@example.org>";
const BEFORE: [&str; 2] = [
    "fix-one: one#ba2719ef 42 Some(9)\n",
    "fix-two: two#be248829 be248829\n",
];
const AFTER: [&str; 2] = [
    "fix-one: one#5c490e14 42 Some(9)\n",
    "fix-two: two#ba328dea ba328dea\n",
];

/// Debian's tools this test needs, or `None` (then it is skipped, except under CI).
fn tools_present() -> bool {
    let present = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let all = [
        "dpkg",
        "dpkg-deb",
        "apt-get",
        "dpkg-scanpackages",
        "lintian",
    ]
    .iter()
    .all(|t| present(t));
    // dpkg installs as root only.
    let root = unsafe { libc::geteuid() } == 0;
    if !(all && root) {
        assert!(
            std::env::var("CI").is_err(),
            "dpkg, apt, dpkg-dev and lintian (`.ci/run` installs them) and root are required \
             under CI"
        );
        eprintln!("dpkg, apt, dpkg-scanpackages or lintian missing, or not root: skipped");
    }
    all && root
}

/// `cargo share package --json` of both programs into `repo` with `extra` arguments: the
/// package records, by package name.
fn package(base: &Path, repo: &Path, extra: &[&str]) -> BTreeMap<String, Value> {
    let out = run_ok(
        cargo_share(base)
            .current_dir(base)
            .args(["package", "--json", "--format", "deb", "--manifest-path"])
            .arg(fixture("update/fix-one"))
            .arg("--manifest-path")
            .arg(fixture("update/fix-two"))
            .arg("--out-dir")
            .arg(repo)
            .args(["--maintainer", MAINTAINER])
            .args(extra),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["reason"] == "package-built")
        .map(|v| (v["name"].as_str().unwrap().to_string(), v))
        .collect()
}

/// A private root apt and dpkg install into, with `repo` as its one source.
struct Apt {
    root: PathBuf,
    repo: PathBuf,
}

impl Apt {
    fn new(root: &Path, repo: &Path) -> Apt {
        for dir in [
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/lib/dpkg/triggers",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/log/apt",
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let (status, installed) = system_status(&["libc6", "libgcc-s1"]);
        std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
        // Their file lists, empty: their files are this machine's, not the root's.
        for name in installed {
            std::fs::write(root.join(format!("var/lib/dpkg/info/{name}.list")), "").unwrap();
        }
        let r = root.display();
        std::fs::write(
            root.join("apt.conf"),
            format!(
                "Dir \"{r}/\";\nDir::State::status \"{r}/var/lib/dpkg/status\";\n\
                 Dir::Etc::SourceList \"{r}/etc/apt/sources.list\";\n\
                 Dir::Etc::SourceParts \"{r}/etc/apt/sources.list.d\";\n\
                 Dir::Etc::Parts \"{r}/etc/apt/apt.conf.d\";\n\
                 Dir::Etc::Preferences \"{r}/etc/apt/preferences\";\n\
                 Dir::Etc::PreferencesParts \"{r}/etc/apt/preferences.d\";\n\
                 DPkg::Options {{ \"--root={r}\"; \"--admindir={r}/var/lib/dpkg\"; }};\n\
                 APT::Sandbox::User \"root\";\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("etc/apt/sources.list"),
            format!("deb [trusted=yes] file:{} ./\n", repo.display()),
        )
        .unwrap();
        Apt {
            root: root.to_path_buf(),
            repo: repo.to_path_buf(),
        }
    }

    /// `apt-get ARGS` in the private root (`APT_CONFIG`), required to succeed.
    fn apt_get(&self, args: &[&str]) -> String {
        self.run("apt-get", args)
    }

    fn run(&self, tool: &str, args: &[&str]) -> String {
        let out: Output = run_ok(
            Command::new(tool)
                .env("APT_CONFIG", self.root.join("apt.conf"))
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(args),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Index the repository (`dpkg-scanpackages`) and read it (`apt-get update`).
    fn refresh(&self) {
        let out = run_ok(
            Command::new("dpkg-scanpackages")
                .args(["--multiversion", ".", "/dev/null"])
                .current_dir(&self.repo),
        );
        std::fs::write(self.repo.join("Packages"), out.stdout).unwrap();
        self.apt_get(&["update", "-q"]);
    }

    /// The packages of ours dpkg has installed in the root: name -> version.
    fn installed(&self) -> BTreeMap<String, String> {
        let out = run_ok(
            Command::new("dpkg-query")
                .arg(format!("--admindir={}/var/lib/dpkg", self.root.display()))
                .args(["-W", "-f", "${Package} ${Version} ${db:Status-Status}\\n"]),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let parts: Vec<&str> = l.split(' ').collect();
                (parts.len() == 3 && parts[2] == "installed")
                    .then(|| (parts[0].to_string(), parts[1].to_string()))
            })
            .filter(|(name, _)| !["libc6", "libgcc-s1"].contains(&name.as_str()))
            .filter(|(name, _)| !name.starts_with("gcc-"))
            .collect()
    }

    /// Every file and link under the root's `usr/` (what the packages install).
    fn files(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![self.root.join("usr")];
        while let Some(d) = stack.pop() {
            let Ok(read) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in read {
                let p = e.unwrap().path();
                if p.is_dir() && !p.is_symlink() {
                    stack.push(p.clone());
                }
                out.insert(p.strip_prefix(&self.root).unwrap().display().to_string());
            }
        }
        out
    }

    /// Run both programs from the root's `usr/bin`: their outputs.
    fn run_programs(&self) -> Vec<String> {
        ["fix-one", "fix-two"]
            .iter()
            .map(|p| {
                let link = self.root.join("usr/bin").join(p);
                assert!(link.is_symlink(), "{} is a link", link.display());
                run_clean(&link)
            })
            .collect()
    }
}

/// This machine's dpkg status stanzas of `packages` and everything they depend on: the text,
/// and the names as dpkg lists them (`NAME:ARCH`).
fn system_status(packages: &[&str]) -> (String, Vec<String>) {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let stanzas: BTreeMap<String, &str> = status
        .split("\n\n")
        .filter_map(|s| {
            let name = s.lines().find_map(|l| l.strip_prefix("Package: "))?;
            Some((name.to_string(), s))
        })
        .collect();
    let mut todo: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    let (mut text, mut names, mut seen) = (String::new(), Vec::new(), BTreeSet::new());
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let stanza = stanzas
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not installed on this machine"));
        text.push_str(stanza.trim_end());
        text.push_str("\n\n");
        let arch = stanza
            .lines()
            .find_map(|l| l.strip_prefix("Architecture: "))
            .unwrap_or("all");
        names.push(format!("{name}:{arch}"));
        for line in stanza.lines() {
            let Some(deps) = line
                .strip_prefix("Depends: ")
                .or_else(|| line.strip_prefix("Pre-Depends: "))
            else {
                continue;
            };
            for dep in deps.split([',', '|']) {
                let dep = dep.split_whitespace().next().unwrap_or_default();
                todo.push(dep.split(':').next().unwrap().to_string());
            }
        }
    }
    (text, names)
}

fn field(deb: &Path, name: &str) -> String {
    let out = run_ok(Command::new("dpkg-deb").arg("--field").arg(deb).arg(name));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The packages' names: libstd's, the group's, the programs'.
fn names(records: &BTreeMap<String, Value>) -> (String, String) {
    let std = records.keys().find(|n| n.starts_with("libstd-")).unwrap();
    let group = records
        .keys()
        .find(|n| n.starts_with("libcargo-share-group-"))
        .unwrap();
    (std.clone(), group.clone())
}

fn lintian_finds_no_error(debs: &[PathBuf]) {
    let out = Command::new("lintian")
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .args(debs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !text.lines().any(|l| l.starts_with("E: ")),
        "lintian: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The warnings the book's guide waives, and no other.
    let waived = [
        "copyright-without-copyright-notice",
        "initial-upload-closes-no-bugs",
        "no-manual-page",
    ];
    for line in text.lines().filter(|l| l.starts_with("W: ")) {
        assert!(waived.iter().any(|w| line.contains(w)), "lintian: {line}");
    }
}

#[test]
fn packages_install_upgrade_one_package_and_autoremove_with_apt() {
    if !tools_present() {
        return;
    }
    let (_scratch, base) = scratch_with_directory_source("update/registry");
    let repo = base.join("repo");
    let first = package(&base, &repo, &[]);
    let (std, group) = names(&first);
    let expected: BTreeSet<&str> = [std.as_str(), group.as_str(), "fix-one", "fix-two"].into();
    assert_eq!(
        first.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );
    for (name, rec) in &first {
        let deb = PathBuf::from(rec["file"].as_str().unwrap());
        let version = if name.starts_with("fix-") {
            "0.1.0-1"
        } else {
            "0-1"
        };
        assert_eq!(
            (rec["version"].as_str(), rec["written"].as_bool()),
            (Some(version), Some(true))
        );
        assert_eq!(field(&deb, "Package"), *name);
        assert_eq!(field(&deb, "Version"), version);
    }
    // A program depends on the libraries it loads, at least at the versions made with it.
    let depends = field(
        Path::new(first["fix-one"]["file"].as_str().unwrap()),
        "Depends",
    );
    for dep in [format!("{group} (>= 0-1)"), format!("{std} (>= 0-1)")] {
        assert!(depends.contains(&dep), "{depends}");
    }
    assert!(depends.starts_with("libc6 (>= 2."), "{depends}");
    let debs: Vec<PathBuf> = first
        .values()
        .map(|r| PathBuf::from(r["file"].as_str().unwrap()))
        .collect();
    lintian_finds_no_error(&debs);

    // The same inputs: the same bytes in another directory, and nothing new in this one.
    let again = package(&base, &base.join("repo-again"), &[]);
    for (name, rec) in &again {
        let a = std::fs::read(rec["file"].as_str().unwrap()).unwrap();
        let b = std::fs::read(first[name]["file"].as_str().unwrap()).unwrap();
        assert!(a == b, "{name}: another build, other bytes");
    }
    let same = package(&base, &repo, &[]);
    assert!(same.values().all(|r| r["written"] == false), "{same:?}");

    // Installed by name: the shared packages come in as automatic dependencies.
    let apt = Apt::new(&base.join("root"), &repo);
    apt.refresh();
    apt.apt_get(&["install", "-y", "-q", "fix-one", "fix-two"]);
    let auto: BTreeSet<String> = apt
        .run("apt-mark", &["showauto"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(auto, BTreeSet::from([std.clone(), group.clone()]));
    assert_eq!(apt.run_programs(), BEFORE);

    // A body-only fix of fixlib: one new package, the group's next revision.
    let patch = format!("fixlib={}", fixture("update/patches/fixlib-body").display());
    let fixed = package(&base, &repo, &["--patch", &patch]);
    let written: Vec<(&str, &str)> = fixed
        .values()
        .filter(|r| r["written"] == true)
        .map(|r| (r["name"].as_str().unwrap(), r["version"].as_str().unwrap()))
        .collect();
    assert_eq!(written, [(group.as_str(), "0-2")]);
    apt.refresh();
    let uris = apt.apt_get(&["--print-uris", "-y", "-q", "upgrade"]);
    let downloads: Vec<&str> = uris.lines().filter(|l| l.starts_with('\'')).collect();
    assert_eq!(downloads.len(), 1, "{uris}");
    assert!(
        downloads[0].contains(&format!("{group}_0-2_")),
        "{}",
        downloads[0]
    );
    apt.apt_get(&["upgrade", "-y", "-q"]);
    assert_eq!(apt.installed()[&group], "0-2");
    assert_eq!(
        apt.run_programs(),
        AFTER,
        "the unchanged binaries run the fix"
    );

    // Removing the programs leaves the shared packages; autoremove takes them, and nothing is
    // left.
    apt.apt_get(&["remove", "-y", "-q", "fix-one", "fix-two"]);
    assert_eq!(
        apt.installed().keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([std.clone(), group.clone()])
    );
    apt.apt_get(&["autoremove", "-y", "-q"]);
    assert_eq!(apt.installed(), BTreeMap::new());
    assert_eq!(apt.files(), BTreeSet::new(), "files left behind");
}
