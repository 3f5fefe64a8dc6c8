//! `completions` and `man`: the command line described for shells and `man`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, CommandFactory};

use super::Cli;

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// Where to write them.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

impl CompletionsArgs {
    pub(crate) fn exec(self) -> Result<i32> {
        let mut cli = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut cli, "cargo-share", &mut script);
        std::io::Write::write_all(&mut std::io::stdout(), &script)?;
        Ok(0)
    }
}

impl ManArgs {
    pub(crate) fn exec(self) -> Result<i32> {
        write_man_pages(&self.out)?;
        Ok(0)
    }
}

/// `cargo share man --out DIR`: the manual page of `cargo-share` and of every command.
fn write_man_pages(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut cli = Cli::command();
    cli.build();
    let mut pages = vec![("cargo-share".to_string(), cli.clone())];
    for sub in cli.get_subcommands() {
        let name = format!("cargo-share-{}", sub.get_name());
        for nested in sub.get_subcommands() {
            let nested_name = format!("{name}-{}", nested.get_name());
            pages.push((nested_name, nested.clone()));
        }
        pages.push((name, sub.clone()));
    }
    for (name, cmd) in pages {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .render(&mut page)?;
        let path = out.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
