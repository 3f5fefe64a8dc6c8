//! `image`, `verify-image` and `package`: what ships programs with their shared crates apart
//! (OCI images with shared layers, native packages with shared library packages).

use std::path::PathBuf;

use anyhow::Result;
use cargo_share_cache::image::{self, ImageOptions};
use clap::Args;

use super::program_args::ProgramArgs;
use super::Context;

#[derive(Args, Debug)]
pub(crate) struct ImageArgs {
    #[command(flatten)]
    programs: ProgramArgs,
    /// Push PATH/PROGRAM:VERSION to this registry: oci://HOST[:PORT]/PATH (HTTPS; plain
    /// HTTP for 127.0.0.1 or with --insecure).
    #[arg(long, value_name = "URL", required_unless_present = "out_dir")]
    to: Option<String>,
    /// Write the images into an OCI image layout directory (`index.json` names each by its
    /// program).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// The image to start from (HOST[:PORT]/PATH[:TAG][@sha256:HEX], or a Docker Hub name);
    /// it must provide glibc (e.g. debian:bookworm-slim) [default: none: only the
    /// program's files].
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// Sign each image manifest with this secret key (`cargo share key generate`).
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// Where the programs' files go in the image.
    #[arg(long, value_name = "DIR", default_value = image::DEFAULT_PREFIX)]
    prefix: String,
    /// Use plain HTTP for registries that are not on 127.0.0.1.
    #[arg(long)]
    insecure: bool,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyImageArgs {
    /// The image: HOST[:PORT]/PATH/PROGRAM:TAG or …@sha256:HEX (a digest is checked too).
    #[arg(value_name = "REF")]
    image: String,
    /// A public key whose signatures are trusted (repeatable; at least one).
    #[arg(long = "trusted-key", value_name = "FILE", required = true)]
    trusted_keys: Vec<PathBuf>,
    /// Use plain HTTP for a registry that is not on 127.0.0.1.
    #[arg(long)]
    insecure: bool,
}

impl ImageArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let options = ImageOptions {
            build: self.programs.options(ctx.cache_dir.clone())?,
            to: self.to,
            out_dir: self.out_dir,
            base: self.base,
            sign_key: self.sign_key,
            prefix: self.prefix,
            insecure: self.insecure,
        };
        image::image(&options, &ctx.shell)?;
        Ok(0)
    }
}

impl VerifyImageArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        image::verify_pushed(&self.image, &self.trusted_keys, self.insecure, &ctx.shell)?;
        Ok(0)
    }
}

#[derive(Args, Debug)]
pub(crate) struct PackageCommand {
    #[command(flatten)]
    programs: ProgramArgs,
    #[command(flatten)]
    package: cargo_share_core::package::PackageArgs,
}

impl PackageCommand {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let build = self.programs.options(ctx.cache_dir.clone())?;
        cargo_share_core::package::package(&build, &self.package, &ctx.shell)?;
        Ok(0)
    }
}
