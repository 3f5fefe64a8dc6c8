//! The systemd user unit that runs `cargo share preload` at login
//! (`cargo share preload --print-unit`; `examples/cargo-share-preload.service` is one such unit).

use std::path::Path;

use crate::preload::select::Selection;

/// The unit text for this executable, with the options the preload was given.
pub fn unit_text(exe: &Path, store: Option<&Path>, selection: Selection, lock: bool) -> String {
    let mut command = vec![
        systemd_word(&exe.to_string_lossy()),
        "share".to_string(),
        "preload".to_string(),
        "--quiet".to_string(),
    ];
    if let Some(store) = store {
        command.push("--store".into());
        command.push(systemd_word(&store.to_string_lossy()));
    }
    match selection {
        Selection::All => command.push("--all".into()),
        Selection::MinPrograms(n) => command.push(format!("--min-programs={n}")),
    }
    let (kind, hold) = if lock {
        command.push("--lock".into());
        (
            "simple",
            "# It stays running to hold the files locked, within RLIMIT_MEMLOCK: a user unit\n\
             # may lower it (LimitMEMLOCK=) but not raise it above the user manager's limit\n\
             # (DefaultLimitMEMLOCK= in /etc/systemd/system.conf); beyond it, files stay unlocked.\n",
        )
    } else {
        ("oneshot", "")
    };
    format!(
        "# cargo-share-preload.service: warm the shared libraries of the programs cargo-share\n\
         # installed, at login. Install: save as ~/.config/systemd/user/cargo-share-preload.service,\n\
         # then `systemctl --user daemon-reload && systemctl --user enable --now cargo-share-preload`.\n\
         [Unit]\n\
         Description=Warm the shared libraries of cargo-share's installed programs\n\
         Documentation=man:cargo-share-preload(1)\n\
         \n\
         [Service]\n\
         Type={kind}\n\
         ExecStart={}\n\
         Nice=19\n\
         IOSchedulingClass=idle\n\
         {hold}\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        command.join(" ")
    )
}

/// One word of an `ExecStart=` line: `%` doubled (systemd expands `%x` specifiers), quoted when
/// it holds white space, quotes or backslashes.
fn systemd_word(word: &str) -> String {
    let word = word.replace('%', "%%");
    if word
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_this_executable_with_the_options_given() {
        let text = unit_text(
            Path::new("/opt/my tools/cargo-share"),
            Some(Path::new("/data/100%/store")),
            Selection::MinPrograms(3),
            false,
        );
        assert!(text.contains(
            "ExecStart=\"/opt/my tools/cargo-share\" share preload --quiet \
             --store /data/100%%/store --min-programs=3\n"
        ));
        assert!(text.contains("Type=oneshot\n"));
        assert!(!text.contains("RLIMIT_MEMLOCK"));
        let locked = unit_text(Path::new("/bin/cargo-share"), None, Selection::All, true);
        assert!(locked.contains("ExecStart=/bin/cargo-share share preload --quiet --all --lock\n"));
        assert!(locked.contains("Type=simple\n"));
        assert!(locked.contains("RLIMIT_MEMLOCK"));
    }
}
