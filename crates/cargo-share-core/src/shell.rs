//! Progress and results, the way Cargo prints them: a right-aligned status verb on stderr,
//! `-q` for silence, and JSON lines on stdout for machines (`--message-format json`).

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use crate::failure::ErrorKind;
use crate::message::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageFormat {
    #[default]
    Human,
    Json,
}

/// Where user-facing output goes. Clones share what was said.
#[derive(Debug, Clone, Default)]
pub struct Shell {
    pub quiet: bool,
    pub(crate) format: MessageFormat,
    /// `-v`/`-vv`: passed on to the Cargo builds cargo-share runs (their rustc command lines).
    pub(crate) verbose: u8,
    color: bool,
    /// The status lines said so far (verb and message): a line is said once per command, even
    /// when a step runs again (a set planned in several passes says each split and group once).
    said: Arc<Mutex<HashSet<(String, String)>>>,
    /// A shell made by [`Shell::recording`] keeps what it would say here instead of saying it.
    recorded: Option<Arc<Mutex<Vec<Said>>>>,
}

/// What a recording shell kept, in order, to be said later by another shell.
#[derive(Debug, Clone)]
enum Said {
    Status(String, String),
    Line(String),
    Warning(String),
    Json(serde_json::Value),
}

impl Shell {
    pub fn new(quiet: bool, format: MessageFormat) -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Shell {
            quiet,
            format,
            verbose: 0,
            color,
            said: Arc::default(),
            recorded: None,
        }
    }

    /// A shell that says nothing yet: what a step says through it is kept, and said by
    /// [`Shell::replay`] if the step's result is used (a trial that is thrown away says
    /// nothing). It keeps even what this shell has said already (`replay` drops repeats).
    pub(crate) fn recording(&self) -> Shell {
        Shell {
            said: Arc::default(),
            recorded: Some(Arc::default()),
            ..self.clone()
        }
    }

    /// Say, through this shell, what `recording` kept, in the order it was said.
    pub(crate) fn replay(&self, recording: &Shell) {
        let Some(kept) = &recording.recorded else {
            return;
        };
        let kept = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
        for said in kept {
            match said {
                Said::Status(verb, message) => self.status(&verb, message),
                Said::Line(text) => self.line(text),
                Said::Warning(message) => self.warn(message),
                Said::Json(record) if self.is_json() => write_json_line(&record),
                Said::Json(_) => {}
            }
        }
    }

    /// Keep `said` if this shell records: whether it did.
    fn keep(&self, said: impl FnOnce() -> Said) -> bool {
        let Some(kept) = &self.recorded else {
            return false;
        };
        kept.lock().unwrap_or_else(|e| e.into_inner()).push(said());
        true
    }

    /// What a recording shell kept of its status lines, as `VERB message`.
    #[cfg(test)]
    pub(crate) fn recorded_statuses(&self) -> Vec<String> {
        let Some(kept) = &self.recorded else {
            return Vec::new();
        };
        let kept = kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .filter_map(|said| match said {
                Said::Status(verb, message) => Some(format!("{verb} {message}")),
                _ => None,
            })
            .collect()
    }

    /// The same shell, passing `-v` (`level` times) to the Cargo builds it runs.
    pub fn with_verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }

    /// Whether `verb message` is said for the first time by this shell (or a clone of it).
    fn first_time(&self, verb: &str, message: &str) -> bool {
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        said.insert((verb.to_string(), message.to_string()))
    }

    pub(crate) fn is_json(&self) -> bool {
        self.format == MessageFormat::Json
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[1;{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// `   Compiling foo` style: a status verb right-aligned to 12 columns, then the message.
    /// A line already said is not said again.
    pub fn status(&self, verb: &str, message: impl AsRef<str>) {
        if self.keep(|| Said::Status(verb.to_string(), message.as_ref().to_string())) {
            return;
        }
        if self.quiet || !self.first_time(verb, message.as_ref()) {
            return;
        }
        let verb = self.paint("32", &format!("{verb:>12}"));
        eprintln!("{verb} {}", message.as_ref());
    }

    /// A plain line of human output (a table row); suppressed by `-q` and in JSON mode.
    pub(crate) fn line(&self, text: impl AsRef<str>) {
        if self.keep(|| Said::Line(text.as_ref().to_string())) {
            return;
        }
        if self.quiet || self.is_json() {
            return;
        }
        eprintln!("{}", text.as_ref());
    }

    /// A line of the command's result (a summary table) on stdout: shown with `-q`, replaced by
    /// JSON records in JSON mode.
    pub fn result(&self, text: impl AsRef<str>) {
        if self.is_json() {
            return;
        }
        println!("{}", text.as_ref());
    }

    /// Warnings are shown even with `-q` (as Cargo does) and also emitted as JSON; each once
    /// per command, as status lines.
    pub fn warn(&self, message: impl AsRef<str>) {
        if self.keep(|| Said::Warning(message.as_ref().to_string())) {
            return;
        }
        if !self.first_time("warning", message.as_ref()) {
            return;
        }
        if self.is_json() {
            self.message(&Message::Warning {
                message: message.as_ref(),
            });
        }
        let head = self.paint("33", "warning");
        eprintln!("{head}: {}", message.as_ref());
    }

    /// One JSON record on stdout (only in JSON mode).
    pub fn message(&self, message: &Message) {
        if !self.is_json() {
            return;
        }
        if self.keep(|| Said::Json(serde_json::to_value(message).unwrap_or_default())) {
            return;
        }
        write_json_line(message);
    }

    /// Errors go to stderr always, and in JSON mode also as an `error` record of `kind`.
    pub fn error(&self, kind: ErrorKind, message: impl AsRef<str>) {
        if self.is_json() {
            self.message(&Message::Error {
                kind,
                message: message.as_ref(),
            });
        }
        let head = self.paint("31", "error");
        eprintln!("{head}: {}", message.as_ref());
    }
}

/// One JSON line on stdout.
fn write_json_line(record: &impl serde::Serialize) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, record);
    let _ = writeln!(out);
}

/// A byte count for people: `512 B`, `7.3 KB`, `12.4 MB`, `1.2 GB` (decimal units, as Cargo).
/// The first `n` of `items`, and how many more (`a, b, c (and 4 more)`): a message names a few,
/// its JSON record all of them.
pub(crate) fn first_few(items: &[impl std::fmt::Display], n: usize) -> String {
    let mut text = items
        .iter()
        .take(n)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > n {
        text.push_str(&format!(" (and {} more)", items.len() - n));
    }
    text
}

pub fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if n < 1000 {
        format!("{n} B")
    } else if f < 1e6 {
        format!("{:.1} KB", f / 1e3)
    } else if f < 1e9 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.1} GB", f / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_is_said_once_by_a_shell_and_its_clones() {
        let shell = Shell::new(false, MessageFormat::Human);
        let clone = shell.clone();
        assert!(shell.first_time("Grouping", "a"));
        assert!(!clone.first_time("Grouping", "a"));
        assert!(clone.first_time("Grouping", "b"));
        assert!(clone.first_time("Sharing", "a"));
        assert!(!shell.first_time("Sharing", "a"));
        // A new shell (another command) says it again.
        assert!(Shell::new(false, MessageFormat::Human).first_time("Grouping", "a"));
    }

    /// A warning is said once per command, like a status line: a trial's recording that
    /// repeats it (a program without `Cargo.lock` read again) does not say it twice.
    #[test]
    fn a_warning_is_said_once_per_command() {
        let shell = Shell::new(false, MessageFormat::Human);
        let recording = shell.recording();
        recording.warn("x ships no Cargo.lock");
        assert!(shell.first_time("warning", "y"), "another warning is new");
        shell.warn("x ships no Cargo.lock");
        assert!(!shell.first_time("warning", "x ships no Cargo.lock"));
        shell.replay(&recording);
        let kept = recording.recorded.as_ref().unwrap().lock().unwrap().len();
        assert_eq!(kept, 0, "replayed through a shell that had said it already");
    }

    /// A recording shell says nothing and keeps everything, in order; replaying it says each
    /// line through the other shell, which drops what it has said already.
    #[test]
    fn a_recording_is_said_by_replay_only() {
        let shell = Shell::new(false, MessageFormat::Json);
        assert!(shell.first_time("Grouping", "a"));
        let recording = shell.recording();
        recording.status("Grouping", "a");
        recording.status("Resolving", "b");
        recording.warn("c");
        recording.message(&Message::Warning { message: "d" });
        let kept = recording.recorded.as_ref().unwrap().lock().unwrap().clone();
        assert_eq!(kept.len(), 4);
        assert!(matches!(&kept[0], Said::Status(v, m) if v == "Grouping" && m == "a"));
        assert!(matches!(&kept[3], Said::Json(v) if v["message"] == "d"));
        // Nothing the recording kept reached the shell's record of what it said.
        assert!(shell.first_time("Resolving", "b"));
        shell.replay(&recording);
        assert!(recording
            .recorded
            .as_ref()
            .unwrap()
            .lock()
            .unwrap()
            .is_empty());
    }
}
