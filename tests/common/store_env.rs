//! A scratch store and install root for the store's tests, and the commands run on them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{cargo_share, run_ok};

pub struct Env {
    _scratch: tempfile::TempDir,
    pub base: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::from_scratch(tempfile::tempdir().unwrap())
    }
    /// A scratch store under Cargo's target directory, not `/tmp`: a test of the page cache
    /// needs a disk file system (tmpfs keeps every page in memory whatever the advice).
    pub fn on_disk() -> Env {
        Env::from_scratch(tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap())
    }
    fn from_scratch(scratch: tempfile::TempDir) -> Env {
        let base = scratch.path().to_path_buf();
        Env {
            _scratch: scratch,
            base,
        }
    }
    pub fn store(&self) -> PathBuf {
        self.base.join("store")
    }
    pub fn root(&self) -> PathBuf {
        self.base.join("root")
    }
    pub fn cmd(&self) -> Command {
        let mut c = cargo_share(&self.base);
        c.arg("--store").arg(self.store());
        c
    }
    pub fn install(&self, fixture_dir: &Path) -> Command {
        let mut c = self.cmd();
        c.args(["install", "--json", "--layout", "per-crate", "--path"])
            .arg(fixture_dir)
            .arg("--root")
            .arg(self.root());
        c
    }
    pub fn json(&self, out: &Output) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    pub fn verify_ok(&self) {
        run_ok(self.cmd().arg("verify"));
    }
    pub fn entries(&self) -> Vec<String> {
        let out = run_ok(self.cmd().args(["list", "--json"]));
        let v = &self.json(&out)[0];
        let mut e: Vec<String> = v["libraries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{} {}",
                    l["package"].as_str().unwrap(),
                    l["id"].as_str().unwrap()
                )
            })
            .collect();
        e.sort();
        e
    }

    /// Flip the last byte of the runtime file of the entry of `package` (in place: the programs'
    /// hard links see the damage too).
    pub fn damage_entry(&self, package: &str) -> PathBuf {
        let lib = self.entry_runtime_file(package);
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut data = std::fs::read(&lib).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        std::fs::write(&lib, data).unwrap();
        lib
    }

    /// The runtime file (`lib/`) of the store's entry of `package`.
    pub fn entry_runtime_file(&self, package: &str) -> PathBuf {
        let entry = std::fs::read_dir(self.store().join("entries"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{package}-"))
            })
            .unwrap();
        std::fs::read_dir(entry.join("lib"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// The group libraries the program of `bin` (in the root) loads, as (file name, inode):
    /// hard links to its store entries.
    pub fn group_libs(&self, bin: &str) -> Vec<(String, u64)> {
        use std::os::unix::fs::MetadataExt;
        let target = std::fs::read_link(self.root().join("bin").join(bin)).unwrap();
        let lib = target.parent().unwrap().parent().unwrap().join("lib");
        super::file_names(&lib)
            .into_iter()
            .filter(|l| l.starts_with("libcargo_share_group_"))
            .map(|l| {
                let ino = std::fs::metadata(lib.join(&l)).unwrap().ino();
                (l, ino)
            })
            .collect()
    }
}
