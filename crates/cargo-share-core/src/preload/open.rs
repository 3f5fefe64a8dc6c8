//! Opening a file preload was told to warm, only if it is a file of the store.
//!
//! The store's own directories were checked when it was opened (`store::ancestors`: owned by
//! us or root, not writable by others, up to `/`). A file is then opened only when its path,
//! with every symbolic link resolved, is the path the index gave (inside the store, no link on
//! the way, no `..`), opened without following a last link (`O_NOFOLLOW`), and is a regular file
//! owned by us or by root. Whatever else is skipped with the reason; nothing is read from it.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path};

/// Why a file was not warmed.
#[derive(Debug)]
pub(crate) struct Refusal(pub String);

/// Open `path` for reading if it is a regular file of the store at `store_real` (the store's
/// directory with its links resolved).
pub(crate) fn open_store_file(store_real: &Path, path: &Path) -> Result<File, Refusal> {
    let inside = path
        .strip_prefix(store_real)
        .map_err(|_| Refusal(format!("is not under the store {}", store_real.display())))?;
    if inside
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(Refusal("names `..` in its path".into()));
    }
    let real = path
        .canonicalize()
        .map_err(|e| Refusal(format!("cannot be resolved: {e}")))?;
    if !real.starts_with(store_real) {
        return Err(Refusal(format!(
            "resolves to {}, outside the store {}",
            real.display(),
            store_real.display()
        )));
    }
    if real != path {
        return Err(Refusal(format!(
            "is reached through a symbolic link (to {}); store files are never links",
            real.display()
        )));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(&real)
        .map_err(|e| Refusal(format!("cannot be opened: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Refusal(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(Refusal("is not a regular file".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(Refusal(format!(
            "is owned by uid {}, neither us nor root",
            meta.uid()
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_files_open_and_links_out_of_or_within_the_store_do_not() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, b"not the store's").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let store = scratch.path().join("store");
        std::fs::create_dir_all(store.join("entries/a/lib")).unwrap();
        std::fs::write(store.join("entries/a/lib/liba.so"), b"ELF").unwrap();
        std::os::unix::fs::symlink(&secret, store.join("entries/a/lib/libout.so")).unwrap();
        std::os::unix::fs::symlink("liba.so", store.join("entries/a/lib/libin.so")).unwrap();
        std::os::unix::fs::symlink(outside.path(), store.join("entries/b")).unwrap();
        let real = store.canonicalize().unwrap();

        assert!(open_store_file(&real, &real.join("entries/a/lib/liba.so")).is_ok());
        let refused = |p: &str| open_store_file(&real, &real.join(p)).unwrap_err().0;
        assert!(refused("entries/a/lib/libout.so").contains("outside the store"));
        assert!(refused("entries/b/secret").contains("outside the store"));
        assert!(refused("entries/a/lib/libin.so").contains("symbolic link"));
        assert!(refused("entries/a/lib/../lib/liba.so").contains("`..`"));
        assert!(refused("entries/a/lib/libgone.so").contains("cannot be resolved"));
        assert!(open_store_file(&real, &secret)
            .unwrap_err()
            .0
            .contains("not under"));
        assert!(refused("entries/a/lib").contains("not a regular file"));
    }
}
