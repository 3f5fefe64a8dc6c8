//! `audit`: what the Rust binaries on this machine duplicate.

use std::path::PathBuf;

use anyhow::Result;
use cargo_share_measure::audit;
use clap::Args;

use super::Context;

#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    /// Files or directories [default: $CARGO_HOME/bin, /usr/bin, /usr/local/bin, /usr/lib].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

impl AuditArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let options = audit::AuditOptions {
            paths: self.paths,
            html: self.html,
        };
        audit::audit(&options, &ctx.shell)?;
        Ok(0)
    }
}
