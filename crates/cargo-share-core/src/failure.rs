//! The failures a caller tells apart from other errors: the command line gives each its own
//! exit code (the book's `reference/exit-codes.md`). Everything else is a plain error.

/// A failure worth its own exit code. It travels inside an `anyhow::Error` (context added on
/// the way keeps it); [`Failure::of`] finds it.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Some programs of the command were installed and the others failed (the message names
    /// them): retrying just the failed ones is enough.
    #[error("{0}")]
    Partial(String),
    /// A remote (a binary cache, an image registry) could not be reached: nothing was changed,
    /// and the same command may work later.
    #[error("{0}")]
    Unreachable(String),
    /// Something a remote sent is not signed by a trusted key, or its signature does not
    /// verify: refused, nothing written.
    #[error("{0}")]
    Untrusted(String),
}

impl Failure {
    /// The failure an error carries, if any (anywhere in its chain of causes).
    pub(crate) fn of(error: &anyhow::Error) -> Option<&Failure> {
        error
            .chain()
            .find_map(|cause| cause.downcast_ref::<Failure>())
    }
}

/// What kind of error an `error` record reports: each kind has its exit code (the book's
/// `reference/exit-codes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// A problem `verify` found (exit code 1).
    Problem,
    /// Some programs were installed, the others failed ([`Failure::Partial`], 3).
    Partial,
    /// A remote could not be reached ([`Failure::Unreachable`], 4).
    Unreachable,
    /// Something a remote sent failed its signature check ([`Failure::Untrusted`], 5).
    Untrusted,
    /// Any other error (101).
    Failed,
}

impl ErrorKind {
    /// The kind of `error`: its [`Failure`]'s, else `Failed`.
    pub fn of(error: &anyhow::Error) -> ErrorKind {
        match Failure::of(error) {
            Some(Failure::Partial(_)) => ErrorKind::Partial,
            Some(Failure::Unreachable(_)) => ErrorKind::Unreachable,
            Some(Failure::Untrusted(_)) => ErrorKind::Untrusted,
            None => ErrorKind::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_failure_is_found_under_the_context_added_on_its_way_up() {
        let error = Err::<(), _>(Failure::Untrusted("forged".into()))
            .context("pulling ripgrep")
            .unwrap_err();
        assert!(matches!(Failure::of(&error), Some(Failure::Untrusted(_))));
        assert!(Failure::of(&anyhow::anyhow!("plain")).is_none());
    }
}
