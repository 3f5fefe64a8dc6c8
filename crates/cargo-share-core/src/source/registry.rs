//! `Registry`: a Cargo registry other than crates.io that a program is installed from
//! (`install --registry NAME` or `--index URL`, as `cargo install` takes them).

use std::fmt;

/// A registry other than crates.io.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Registry {
    /// `--registry NAME`: a registry of Cargo's configuration (`[registries.NAME]`).
    Named(String),
    /// `--index URL`: a registry index given by its URL.
    Index(String),
}

/// The name a throwaway manifest gives a registry known only by its index URL (with
/// `--config registries.NAME.index=URL` on the Cargo command line).
const INDEX_ALIAS: &str = "cargo-share-index";

impl Registry {
    /// The `registry = "NAME"` a dependency on a package of it names.
    pub(crate) fn dependency_name(&self) -> &str {
        match self {
            Registry::Named(name) => name,
            Registry::Index(_) => INDEX_ALIAS,
        }
    }

    /// The Cargo arguments that define the registry for a command, if it needs any.
    pub(crate) fn cargo_args(&self) -> Vec<String> {
        match self {
            Registry::Named(_) => Vec::new(),
            Registry::Index(url) => vec![
                "--config".to_string(),
                format!("registries.{INDEX_ALIAS}.index={url:?}"),
            ],
        }
    }

    /// What to check when Cargo cannot resolve a package on it.
    pub(crate) fn hint(&self) -> String {
        match self {
            Registry::Named(name) => format!(
                "is `{name}` defined in Cargo's configuration, as `[registries.{name}]` with its \
                 `index`, and the name and version right?"
            ),
            Registry::Index(url) => {
                format!("is {url} a registry index Cargo can read, and the name and version right?")
            }
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Registry::Named(name) => write!(f, "registry `{name}`"),
            Registry::Index(url) => write!(f, "registry {url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_by_index_is_defined_on_the_command_line() {
        let by_index = Registry::Index("https://example.invalid/index".into());
        assert_eq!(by_index.dependency_name(), "cargo-share-index");
        assert_eq!(
            by_index.cargo_args(),
            [
                "--config",
                "registries.cargo-share-index.index=\"https://example.invalid/index\""
            ]
        );
        let named = Registry::Named("company".into());
        assert_eq!(named.dependency_name(), "company");
        assert!(named.cargo_args().is_empty());
        assert_eq!(named.to_string(), "registry `company`");
    }
}
