//! Signing keys: `cargo share key generate`, the secret key `push` signs with and the public
//! keys `pull` trusts (ed25519, `ed25519-dalek`).
//!
//! Files (text, one field a line): `NAME.secret` is `cargo-share secret key v1`, the key's name
//! and the base64 of its 32-byte seed, readable by its owner only; `NAME.pub` is
//! `cargo-share public key v1`, the name and the base64 of the 32-byte public key. The name
//! travels with each signature, so a puller with several trusted keys knows which to check.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cargo_share_core::message::Message;
use cargo_share_core::shell::Shell;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const SECRET_HEADER: &str = "cargo-share secret key v1";
const PUBLIC_HEADER: &str = "cargo-share public key v1";

/// A secret key read from its file.
pub struct SecretKey {
    pub(crate) name: String,
    key: SigningKey,
}

/// A public key trusted by a puller.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub(crate) name: String,
    key: VerifyingKey,
}

/// A key name: what `generate` accepts (it becomes a file name and travels in signatures).
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        || name.starts_with('.')
    {
        bail!(
            "the key name `{name}` is not usable: use 1 to 64 letters, digits, `-`, `_` or `.`, \
             not starting with `.`"
        );
    }
    Ok(())
}

/// `cargo share key generate NAME --out DIR`: a new key pair, `DIR/NAME.secret` (mode 0600,
/// never overwritten) and `DIR/NAME.pub`. Returns both paths.
pub(crate) fn generate(name: &str, out: &Path) -> Result<(PathBuf, PathBuf)> {
    check_name(name)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let secret_path = out.join(format!("{name}.secret"));
    let public_path = out.join(format!("{name}.pub"));
    for p in [&secret_path, &public_path] {
        if std::fs::symlink_metadata(p).is_ok() {
            bail!(
                "{} exists; nothing was written. Choose another name or directory (a key is \
                 never overwritten)",
                p.display()
            );
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("reading random bytes: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret_path)
        .with_context(|| format!("creating {}", secret_path.display()))?;
    writeln!(file, "{SECRET_HEADER}\n{name}\n{}", BASE64.encode(seed))
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", secret_path.display()))?;
    let public = format!(
        "{PUBLIC_HEADER}\n{name}\n{}\n",
        BASE64.encode(key.verifying_key().as_bytes())
    );
    std::fs::write(&public_path, public)
        .with_context(|| format!("writing {}", public_path.display()))?;
    Ok((secret_path, public_path))
}

/// `cargo share key generate`: [`generate`], then the `Generated` status line and the
/// `key-generated` record.
pub fn generate_announced(name: &str, out: &Path, shell: &Shell) -> Result<()> {
    let (secret, public) = generate(name, out)?;
    shell.status(
        "Generated",
        format!(
            "the key `{name}`: {} (secret, owner-only: sign with it) and {} (public: give it \
             to pullers)",
            secret.display(),
            public.display()
        ),
    );
    shell.message(&Message::KeyGenerated {
        name,
        secret: &secret,
        public: &public,
    });
    Ok(())
}

/// The header, name and base64 body of a key file, checked.
fn read_key_file(path: &Path, header: &str, what: &str) -> Result<(String, [u8; 32])> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} {}", path.display()))?;
    let mut lines = text.lines();
    let (Some(h), Some(name), Some(body)) = (lines.next(), lines.next(), lines.next()) else {
        bail!(
            "{} is not a cargo-share {what} (`cargo share key generate` writes them)",
            path.display()
        );
    };
    if h != header {
        bail!(
            "{} is not a cargo-share {what}: its first line should be `{header}` \
             (`cargo share key generate` writes them)",
            path.display()
        );
    }
    check_name(name).with_context(|| format!("in {}", path.display()))?;
    let bytes: [u8; 32] = BASE64
        .decode(body.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{}: the key is not 32 bytes of base64", path.display()))?;
    Ok((name.to_string(), bytes))
}

impl SecretKey {
    /// Read a secret key; refused when others can read it.
    pub fn read(path: &Path) -> Result<SecretKey> {
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "the secret key {} can be read by others (mode {:o}); make it owner-only \
                 (`chmod 600 {}`) and consider the key leaked",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
        let (name, seed) = read_key_file(path, SECRET_HEADER, "secret key")?;
        Ok(SecretKey {
            name,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The base64 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        BASE64.encode(self.key.sign(message).to_bytes())
    }
}

impl PublicKey {
    pub fn read(path: &Path) -> Result<PublicKey> {
        let (name, bytes) = read_key_file(path, PUBLIC_HEADER, "public key")?;
        let key = VerifyingKey::from_bytes(&bytes)
            .with_context(|| format!("{}: not an ed25519 public key", path.display()))?;
        Ok(PublicKey { name, key })
    }

    /// Whether `signature` (base64) is this key's over `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(sig) = BASE64
            .decode(signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        self.key
            .verify(message, &Signature::from_bytes(&sig))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_only_its_public_key_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = generate("ci", dir.path()).unwrap();
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = generate("ci", dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("never overwritten"), "{err:#}");
        let other = generate("other", dir.path()).unwrap().1;

        let key = SecretKey::read(&secret).unwrap();
        let sig = key.sign(b"message");
        let public = PublicKey::read(&public).unwrap();
        assert_eq!(public.name, "ci");
        assert!(public.verifies(b"message", &sig));
        assert!(!public.verifies(b"messagf", &sig));
        assert!(!PublicKey::read(&other).unwrap().verifies(b"message", &sig));

        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretKey::read(&secret).err().unwrap();
        assert!(
            format!("{err:#}").contains("can be read by others"),
            "{err:#}"
        );
        assert!(generate("../x", dir.path()).is_err());
    }
}
