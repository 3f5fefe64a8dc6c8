//! A real OCI registry for the binary cache's tests: Debian's `docker-registry` (the CNCF
//! Distribution server, installed by `.ci/run`) serving 127.0.0.1 on a free port, with
//! filesystem storage in a temporary directory; stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Option<Child>,
    pub port: u16,
    pub storage: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

/// The registry program, if installed.
fn registry_program() -> Option<PathBuf> {
    ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

impl Registry {
    /// A running registry, or `None` (with a message) where the program is not installed.
    pub fn start(test: &str) -> Option<Registry> {
        let Some(program) = registry_program() else {
            eprintln!(
                "skipping {test}: docker-registry is not installed (`.ci/run` installs Debian's \
                 package)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let config = dir.path().join("config.yml");
        let mut registry = Registry {
            child: None,
            port: 0,
            storage,
            config,
            _dir: dir,
        };
        registry.port = free_port();
        std::fs::write(
            &registry.config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
                 delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n",
                registry.storage.display(),
                registry.port
            ),
        )
        .unwrap();
        registry.run(&program);
        Some(registry)
    }

    fn run(&mut self, program: &Path) {
        let child = Command::new(program)
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `oci://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("oci://127.0.0.1:{}/{path}", self.port)
    }

    /// Stop the server (the storage stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every blob file in the storage directory (`…/blobs/sha256/XX/HEX/data`) with its digest.
    pub fn blob_files(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let mut stack = vec![self.storage.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == "data")
                    && p.to_string_lossy().contains("/blobs/sha256/")
                {
                    let hex = p.parent().unwrap().file_name().unwrap().to_string_lossy();
                    out.push((format!("sha256:{hex}"), p.clone()));
                }
            }
        }
        out
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
