//! Repository rules, checked by `cargo test`: the shape every paper crate is written in.
//!
//! - sources stay small: files of at most 500 lines, functions of at most 80;
//! - citations stay in the repository: no crate cites a document outside it;
//! - each crate's README examples are compiled as doctests, and none is skipped;
//! - no two source files of a crate depend on each other (parent and child modules aside);
//! - libraries have one error style: no `anyhow`, no public function failing with `String`;
//! - library code never takes the test lock on Burn's random generator;
//! - every `reproduce-<paper>` binary is a few lines over `kiln_core::cli::main`;
//! - a paper crate without its `reproduce` feature builds none of the reproduction's
//!   dependencies.

#![allow(clippy::unwrap_used)] // a broken tree should fail loudly

#[path = "tidy/source.rs"]
mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 80;
const MAX_BINARY_LINES: usize = 40;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir` (relative to the root) whose name ends in one of `endings`, skipping
/// build output and test fixtures.
fn files(dir: &str, endings: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, endings: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !["target", "fixtures", "node_modules"].contains(&name.as_str()) {
                    walk(&path, endings, out);
                }
            } else if endings.iter().any(|e| name.ends_with(e)) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), endings, &mut out);
    out.sort();
    out
}

fn rust_sources() -> Vec<PathBuf> {
    ["crates", "shared", "xtask"]
        .iter()
        .flat_map(|d| files(d, &[".rs"]))
        .collect()
}

/// The library crates: each paper crate, kiln-core and kiln-fetch, by their folder.
fn library_crates() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    crates.extend([root().join("shared"), root().join("shared/fetch")]);
    crates
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn report(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

#[test]
fn files_and_functions_stay_short() {
    let mut problems = Vec::new();
    for path in rust_sources() {
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!(
                "{} has {lines} lines (at most {MAX_FILE_LINES}): split it",
                relative(&path)
            ));
        }
        let facts = source::read(&path, &[]).unwrap();
        for (name, line, length) in facts.functions {
            if length > MAX_FN_LINES {
                problems.push(format!(
                    "{}:{line}: fn {name} has {length} lines (at most {MAX_FN_LINES})",
                    relative(&path)
                ));
            }
        }
    }
    report("files or functions too long", &problems);
}

#[test]
fn citations_stay_in_the_repository() {
    // "the spec" must not be followed by a letter, so that "the specials" passes.
    let phrases = ["our spec", "../shared/", "spec §", "spec's", "the spec"];
    let mut problems = Vec::new();
    for path in ["crates", "shared"]
        .iter()
        .flat_map(|d| files(d, &[".rs", ".md", ".toml"]))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            for phrase in phrases {
                let cited = lower.match_indices(phrase).any(|(at, _)| {
                    let next = lower[at + phrase.len()..].chars().next();
                    phrase != "the spec" || !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if cited {
                    problems.push(format!(
                        "{}:{}: `{phrase}`: cite the paper's section, equation, table or figure",
                        relative(&path),
                        number + 1
                    ));
                }
            }
        }
    }
    report("citations of documents outside the repository", &problems);
}

#[test]
fn readme_examples_are_compiled() {
    let mut problems = Vec::new();
    for dir in library_crates() {
        let readme = dir.join("README.md");
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        if !readme.is_file() {
            problems.push(format!("{} has no README.md", relative(&dir)));
            continue;
        }
        if !lib.contains("include_str!(\"../README.md\")") {
            problems.push(format!(
                "{}/src/lib.rs does not compile its README (`#[doc = include_str!(\"../README.md\")]` under `#[cfg(doctest)]`)",
                relative(&dir)
            ));
        }
        let text = std::fs::read_to_string(&readme).unwrap();
        for (number, line) in text.lines().enumerate() {
            if line.starts_with("```") && line.contains("ignore") {
                problems.push(format!(
                    "{}:{}: an `ignore`d example is never checked; make it compile",
                    relative(&readme),
                    number + 1
                ));
            }
        }
    }
    report("README examples", &problems);
}

/// The module path of `file` in the crate whose `src` folder is `src`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("lib" | "mod" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file modules of one crate's library and the references between them: an edge `a → b`
/// when `a` uses an item of `b` and neither module contains the other.
fn module_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let sources: Vec<PathBuf> = files(&relative(src), &[".rs"])
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")))
        .collect();
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &sources {
        let from = module_of(src, file);
        let facts = source::read(file, &from).unwrap();
        let edges: &mut BTreeSet<Vec<String>> = graph.entry(from.clone()).or_default();
        for (path, _) in facts.references {
            // The longest prefix of the path that is a file of this crate.
            let Some(to) = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
            else {
                continue;
            };
            if !to.starts_with(&from) && !from.starts_with(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

#[test]
fn no_two_source_files_depend_on_each_other() {
    let mut problems = Vec::new();
    for dir in library_crates() {
        let graph = module_graph(&dir.join("src"));
        for (from, targets) in &graph {
            for to in targets {
                if graph.get(to).is_some_and(|back| back.contains(from)) && from < to {
                    problems.push(format!(
                        "{}: `{}` and `{}` use each other; move what both need into one of them \
                         or a third module",
                        relative(&dir),
                        from.join("::"),
                        to.join("::")
                    ));
                }
            }
        }
    }
    report("module cycles", &problems);
}

/// Library sources: each library crate's `src`, without binaries.
fn library_sources() -> Vec<PathBuf> {
    library_crates()
        .iter()
        .flat_map(|dir| files(&relative(&dir.join("src")), &[".rs"]))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "bin"))
        .collect()
}

#[test]
fn libraries_have_one_error_style_and_take_no_test_lock() {
    let mut problems = Vec::new();
    for path in library_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(number) = text.lines().position(|l| l.contains("anyhow")) {
            problems.push(format!(
                "{}:{}: `anyhow` is for binaries; libraries return `thiserror` types",
                relative(&path),
                number + 1
            ));
        }
        let facts = source::read(&path, &[]).unwrap();
        for (name, line) in facts.string_errors {
            problems.push(format!(
                "{}:{line}: pub fn {name} fails with a `String`; return a `thiserror` type",
                relative(&path)
            ));
        }
        for line in facts.lock_calls {
            problems.push(format!(
                "{}:{line}: `device_rng_lock()` outside a test; library code never takes it",
                relative(&path)
            ));
        }
    }
    report("library error style and test locks", &problems);
}

#[test]
fn reproduce_binaries_are_thin() {
    let mut problems = Vec::new();
    for binary in files("crates", &["reproduce.rs"]) {
        let text = std::fs::read_to_string(&binary).unwrap();
        let lines = text.lines().count();
        if lines >= MAX_BINARY_LINES || !text.contains("kiln_core::cli::main::<") {
            problems.push(format!(
                "{} has {lines} lines (under {MAX_BINARY_LINES}, calling `kiln_core::cli::main`)",
                relative(&binary)
            ));
        }
    }
    report("reproduce binaries", &problems);
}

#[test]
fn lean_builds_hold_no_reproduction_dependencies() {
    let forbidden = [
        "clap",
        "plotters",
        "indicatif",
        "zip",
        "kiln-fetch",
        "anyhow",
    ];
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut problems = Vec::new();
    let packages = library_crates()
        .iter()
        .filter(|d| d.starts_with(root().join("crates")) || d.ends_with("shared"))
        .map(|d| {
            let manifest = std::fs::read_to_string(d.join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .unwrap();
            name.trim_end_matches('"').to_string()
        })
        .collect::<Vec<_>>();
    for package in packages {
        let out = Command::new(&cargo)
            .current_dir(root())
            .args([
                "tree", "--locked", "-e", "normal", "--prefix", "none", "-p", &package,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo tree -p {package}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        let names: BTreeSet<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
        for name in forbidden.iter().filter(|n| names.contains(**n)) {
            problems.push(format!(
                "{package} with default features depends on {name}: put it behind `reproduce`"
            ));
        }
    }
    report("lean builds", &problems);
}
