//! The binary cache: `key generate`, `push` and `pull`.

use std::path::PathBuf;

use anyhow::Result;
use cargo_share_cache::cache;
use cargo_share_core::source::CrateSpec;
use cargo_share_core::store;
use clap::Args;

use super::{Context, KeyCommand};

#[derive(Args, Debug)]
pub(crate) struct PushArgs {
    /// The cache: oci://HOST[:PORT]/PATH (HTTPS; plain HTTP for 127.0.0.1 or with --insecure).
    #[arg(long, value_name = "URL")]
    to: String,
    /// The secret key to sign with (`cargo share key generate`).
    #[arg(long, value_name = "FILE")]
    sign_key: PathBuf,
    /// Use plain HTTP for a registry that is not on 127.0.0.1.
    #[arg(long)]
    insecure: bool,
    /// Installed programs to push [default: all].
    #[arg(value_name = "PROGRAM")]
    programs: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct PullArgs {
    /// The cache: oci://HOST[:PORT]/PATH (HTTPS; plain HTTP for 127.0.0.1 or with --insecure).
    #[arg(long, value_name = "URL")]
    from: String,
    /// A public key whose signatures are trusted (repeatable; at least one).
    #[arg(long = "trusted-key", value_name = "FILE", required = true)]
    trusted_keys: Vec<PathBuf>,
    /// Install root: binaries are linked into ROOT/bin [default: $CARGO_INSTALL_ROOT or $CARGO_HOME].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Replace binaries in ROOT/bin that cargo share did not install.
    #[arg(long)]
    force: bool,
    /// Use plain HTTP for a registry that is not on 127.0.0.1 (credentials are then not sent).
    #[arg(long)]
    insecure: bool,
    /// Install the cache's `latest` of a program even when it is an older version than the
    /// one installed (without it, such a rollback of `latest` is refused; NAME@VERSION
    /// always installs the version asked for).
    #[arg(long)]
    allow_downgrade: bool,
    /// Programs: NAME or NAME@VERSION (default: the latest pushed).
    #[arg(value_name = "NAME[@VERSION]", required = true)]
    programs: Vec<CrateSpec>,
}

impl KeyCommand {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let KeyCommand::Generate { name, out } = self;
        cache::keys::generate_announced(&name, &out, &ctx.shell)?;
        Ok(0)
    }
}

impl PushArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let options = cache::PushOptions {
            store: ctx.store_dir()?,
            to: self.to,
            sign_key: self.sign_key,
            programs: self.programs,
            insecure: self.insecure,
        };
        cache::push(&options, &ctx.shell)?;
        Ok(0)
    }
}

impl PullArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let options = cache::PullOptions {
            store: ctx.store_dir()?,
            root: match self.root {
                Some(r) => r,
                None => store::default_root()?,
            },
            from: self.from,
            trusted_keys: self.trusted_keys,
            programs: self.programs,
            insecure: self.insecure,
            force: self.force,
            allow_downgrade: self.allow_downgrade,
        };
        cache::pull(&options, &ctx.shell)?;
        Ok(0)
    }
}
