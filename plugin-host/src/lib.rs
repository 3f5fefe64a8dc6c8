//! Load plugins that `cargo share build --plugin-for PROGRAM` built for this program, and refuse
//! any other, before any of the plugin's code runs.
//!
//! cargo-share writes a *closure note* (the ELF section [`CLOSURE_SECTION`]) into the program's
//! binary and into each plugin: the program the plugin was built for and, for every crate they
//! share (each member of the program's groups, and `std`), its name, version and an identity
//! that changes with its version, features, sources and compiler. [`load`] reads the note of
//! the running executable and of the plugin file with `object` (the plugin is parsed, not
//! loaded), compares them, and only then opens the plugin with `libloading`. A plugin without a
//! note, with a note that does not parse, built for another program or against another build of
//! any crate in common is refused, the error naming the first crate that differs.
//!
//! Passing Rust types (`Box<dyn Trait>`, `String`, `Vec`, `HashMap`, ...) across the boundary
//! is sound only because both sides use the very same builds of those crates and of std, loaded
//! once in the process; that is what the check establishes.

use std::fmt;
use std::path::{Path, PathBuf};

/// The ELF section holding the closure note (written by cargo-share's
/// `build::plugin_closure`).
pub const CLOSURE_SECTION: &str = ".cargo-share.closure";
/// The note's first line: its format.
pub const CLOSURE_FORMAT: &str = "cargo-share closure v1";

/// One crate of a shared closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCrate {
    pub name: String,
    pub version: String,
    /// SHA-256 (hex) of what the crate was compiled from.
    pub id: String,
}

/// What a file's closure note says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// The program (plugin host) the file was built as or for.
    pub program: String,
    /// Sorted by name and version.
    pub crates: Vec<SharedCrate>,
}

/// The first crate of a plugin's closure that the program does not have as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The crate as the plugin was built against it.
    pub plugin_has: SharedCrate,
    /// The crate of that name in the program, if it has one.
    pub program_has: Option<SharedCrate>,
}

/// Why a plugin was refused or could not be loaded.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not an ELF file `object` can read.
    NotElf { path: PathBuf, why: String },
    /// The file has no closure note: not built by cargo-share as a plugin host or plugin.
    NoNote { path: PathBuf },
    /// The note is there but malformed (cut, edited, another format).
    BadNote { path: PathBuf, why: String },
    /// The plugin was built for another program.
    OtherProgram {
        plugin: PathBuf,
        built_for: String,
        this_program: String,
    },
    /// The first crate in common whose build differs (or that this program lacks).
    Differs {
        plugin: PathBuf,
        mismatch: Box<Mismatch>,
    },
    /// The check passed but the dynamic loader failed.
    Load {
        path: PathBuf,
        error: libloading::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |id: &str| id.chars().take(12).collect::<String>();
        match self {
            Error::Io { path, error } => write!(f, "reading {}: {error}", path.display()),
            Error::NotElf { path, why } => {
                write!(f, "{} is not a readable ELF file: {why}", path.display())
            }
            Error::NoNote { path } => write!(
                f,
                "{} has no cargo-share closure note ({CLOSURE_SECTION}): build it with \
                 `cargo share build --plugin-for PROGRAM`",
                path.display()
            ),
            Error::BadNote { path, why } => write!(
                f,
                "the closure note of {} cannot be read ({why}): build it again with cargo-share",
                path.display()
            ),
            Error::OtherProgram {
                plugin,
                built_for,
                this_program,
            } => write!(
                f,
                "refusing plugin {}: it was built for {built_for}, not for {this_program}",
                plugin.display()
            ),
            Error::Differs { plugin, mismatch } => {
                let theirs = &mismatch.plugin_has;
                let name = &theirs.name;
                write!(
                    f,
                    "refusing plugin {}: it was built against {name} {} (build {}), ",
                    plugin.display(),
                    theirs.version,
                    short(&theirs.id)
                )?;
                match &mismatch.program_has {
                    Some(ours) => write!(
                        f,
                        "but this program has {name} {} (build {})",
                        ours.version,
                        short(&ours.id)
                    )?,
                    None => write!(f, "which this program does not have")?,
                }
                write!(
                    f,
                    "; build the plugin again with `cargo share build --plugin-for` against this \
                     program's build"
                )
            }
            Error::Load { path, error } => write!(f, "loading {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// The closure note of an ELF file, read without loading it.
pub fn read_closure(path: &Path) -> Result<Closure, Error> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let file = object::File::parse(&*data).map_err(|e| Error::NotElf {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    let section = file
        .section_by_name(CLOSURE_SECTION)
        .ok_or_else(|| Error::NoNote {
            path: path.to_path_buf(),
        })?;
    let bytes = section.data().map_err(|e| Error::BadNote {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    parse_closure(bytes).map_err(|why| Error::BadNote {
        path: path.to_path_buf(),
        why,
    })
}

/// Parse a closure note (see the crate docs for its format).
pub fn parse_closure(bytes: &[u8]) -> Result<Closure, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let mut lines = text.lines();
    if lines.next() != Some(CLOSURE_FORMAT) {
        return Err(format!("its first line is not `{CLOSURE_FORMAT}`"));
    }
    let program = lines
        .next()
        .and_then(|l| l.strip_prefix("program "))
        .ok_or("no `program` line")?
        .to_string();
    let mut crates = Vec::new();
    for line in lines.by_ref() {
        if let Some(count) = line.strip_prefix("end ") {
            if count.parse::<usize>() != Ok(crates.len()) {
                return Err(format!(
                    "it lists {} crates but ends with `{line}`",
                    crates.len()
                ));
            }
            return Ok(Closure { program, crates });
        }
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["crate", name, version, id] if id.len() == 64 => crates.push(SharedCrate {
                name: name.to_string(),
                version: version.to_string(),
                id: id.to_string(),
            }),
            _ => return Err(format!("unexpected line `{line}`")),
        }
    }
    Err("no `end` line: the note is cut".into())
}

/// Check that `plugin` (the note of the file at `plugin_path`) was built for `program`'s exact
/// shared closure: same program, and every crate it lists is one the program has, with the same
/// version and identity. The first crate that differs (by name) is the error.
pub fn check(program: &Closure, plugin: &Closure, plugin_path: &Path) -> Result<(), Error> {
    if plugin.program != program.program {
        return Err(Error::OtherProgram {
            plugin: plugin_path.to_path_buf(),
            built_for: plugin.program.clone(),
            this_program: program.program.clone(),
        });
    }
    for c in &plugin.crates {
        if program.crates.contains(c) {
            continue;
        }
        return Err(Error::Differs {
            plugin: plugin_path.to_path_buf(),
            mismatch: Box::new(Mismatch {
                plugin_has: c.clone(),
                program_has: program.crates.iter().find(|p| p.name == c.name).cloned(),
            }),
        });
    }
    Ok(())
}

/// A loaded plugin.
pub struct Plugin {
    path: PathBuf,
    library: libloading::Library,
}

impl Plugin {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A symbol of the plugin (e.g. its entry point, a `#[no_mangle] pub fn`).
    ///
    /// # Safety
    /// `T` must be the symbol's real type, as with [`libloading::Library::get`].
    pub unsafe fn get<T>(&self, symbol: &[u8]) -> Result<libloading::Symbol<'_, T>, Error> {
        self.library.get(symbol).map_err(|error| Error::Load {
            path: self.path.clone(),
            error,
        })
    }
}

/// Load the plugin at `path` if it was built for the running program's exact shared closure
/// (see [`check`]); the notes are read from the files, so nothing of a refused plugin runs.
///
/// # Safety
/// Loading a shared library runs its initialisers: the plugin must be code you trust to run
/// in this process. The check makes its Rust types those of this program; it does not make
/// untrusted code safe.
pub unsafe fn load(path: &Path) -> Result<Plugin, Error> {
    let exe = std::env::current_exe().map_err(|error| Error::Io {
        path: PathBuf::from("/proc/self/exe"),
        error,
    })?;
    let program = read_closure(&exe)?;
    let plugin = read_closure(path)?;
    check(&program, &plugin, path)?;
    let library = libloading::Library::new(path).map_err(|error| Error::Load {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(Plugin {
        path: path.to_path_buf(),
        library,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(program: &str, crates: &[(&str, &str, char)]) -> String {
        let mut s = format!("{CLOSURE_FORMAT}\nprogram {program}\n");
        for (n, v, c) in crates {
            s.push_str(&format!("crate {n} {v} {}\n", c.to_string().repeat(64)));
        }
        s.push_str(&format!("end {}\n", crates.len()));
        s
    }

    #[test]
    fn the_first_crate_that_differs_is_named() {
        let host = parse_closure(note("h", &[("api", "0.1.0", 'a'), ("std", "1", 's')]).as_bytes())
            .unwrap();
        let same = parse_closure(note("h", &[("api", "0.1.0", 'a')]).as_bytes()).unwrap();
        assert!(check(&host, &same, Path::new("p.so")).is_ok());
        let other =
            parse_closure(note("h", &[("api", "0.1.0", 'b'), ("std", "1", 't')]).as_bytes())
                .unwrap();
        let err = check(&host, &other, Path::new("p.so"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("against api 0.1.0 (build bbbbbbbbbbbb)"),
            "{err}"
        );
        assert!(
            err.contains("this program has api 0.1.0 (build aaaaaaaaaaaa)"),
            "{err}"
        );
        let foreign = parse_closure(note("g", &[]).as_bytes()).unwrap();
        let err = check(&host, &foreign, Path::new("p.so"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("built for g, not for h"), "{err}");
    }

    #[test]
    fn a_cut_or_edited_note_is_refused() {
        let full = note("h", &[("api", "0.1.0", 'a')]);
        let cut = full.replace("end 1\n", "");
        assert!(parse_closure(cut.as_bytes()).unwrap_err().contains("cut"));
        let miscounted = full.replace("end 1", "end 2");
        assert!(parse_closure(miscounted.as_bytes()).is_err());
        let short_id = full.replace(&"a".repeat(64), "aaaa");
        assert!(parse_closure(short_id.as_bytes()).is_err());
        assert!(parse_closure(b"something else").is_err());
    }
}
