//! NumPy's array files: `.npy` (one array) and `.npz` (a zip archive of `.npy` files, one per
//! name), the format of the released JAX checkpoints and of videos saved with `np.save`.
//!
//! An `.npy` file is a magic string `\x93NUMPY`, a version, a Python-literal header
//! (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`) and the raw elements. This
//! reader takes versions 1–3, little- and big-endian floats (`f2`, `f4`, `f8`), integers (`i1`
//! to `i8`, `u1` to `u8`) and booleans, in C or Fortran order, and hands every array back as
//! row-major `f32`. The writer always writes little-endian `f32` in C order (version 1.0), which
//! `numpy.load` reads.
//!
//! ```
//! use kiln_core::npz::{NpyArray, Npz, write_npz};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("weights.npz");
//! let kernel = NpyArray::new(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
//! write_npz(&path, [("layer/kernel", &kernel)]).unwrap();
//!
//! let mut archive = Npz::open(&path).unwrap();
//! assert_eq!(archive.names(), ["layer/kernel"]);
//! assert_eq!(archive.read("layer/kernel").unwrap(), kernel);
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use burn::prelude::{Device, Tensor, TensorData};
use zip::ZipArchive;
use zip::write::SimpleFileOptions;

mod npy;

use npy::{encode_npy, parse_npy};

/// An array read from or written to an `.npy` file: its shape and its elements as `f32`, in
/// row-major (C) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    shape: Vec<usize>,
    values: Vec<f32>,
    element_type: &'static str,
}

impl NpyArray {
    /// An array of `shape` holding `values` in row-major order; `None` if the counts differ.
    pub fn new(shape: Vec<usize>, values: Vec<f32>) -> Option<Self> {
        (shape.iter().product::<usize>() == values.len()).then_some(Self {
            shape,
            values,
            element_type: "float32",
        })
    }

    /// A tensor's shape and values.
    pub fn from_tensor<const D: usize>(tensor: Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        Self {
            shape,
            values: crate::host_values(tensor),
            element_type: "float32",
        }
    }

    /// The shape (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The NumPy element type the values were read from (`"uint8"`, `"float32"`, …);
    /// `"float32"` for arrays made here.
    pub fn element_type(&self) -> &'static str {
        self.element_type
    }

    /// The elements, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The elements, row-major, by value.
    pub fn into_values(self) -> Vec<f32> {
        self.values
    }

    /// The same elements under another shape with the same number of elements (NumPy's
    /// `reshape` of a C-ordered array); `None` if the counts differ.
    pub fn reshape(self, shape: Vec<usize>) -> Option<Self> {
        (shape.iter().product::<usize>() == self.values.len()).then_some(Self { shape, ..self })
    }

    /// A rank-`D` tensor on `device`; `None` if the array's rank is not `D`.
    pub fn into_tensor<const D: usize>(self, device: &Device) -> Option<Tensor<D>> {
        (self.shape.len() == D)
            .then(|| Tensor::from_data(TensorData::new(self.values, self.shape), device))
    }
}

/// An array file or archive that could not be read or written. Each message names the file
/// (and the array, where one is at fault) and says what was expected.
#[derive(Debug, thiserror::Error)]
pub enum NpzError {
    /// The file could not be opened, read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a zip archive (an `.npz` is one) or the archive is damaged.
    #[error("{} is not a readable .npz archive: {problem}", path.display())]
    NotAnArchive {
        /// The file.
        path: PathBuf,
        /// What the zip reader found.
        problem: String,
    },
    /// The archive has no array of this name.
    #[error("{} has no array named `{name}` (it holds {count} arrays)", path.display())]
    MissingArray {
        /// The archive.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// How many arrays the archive holds.
        count: usize,
    },
    /// An array's bytes are not a valid `.npy` file of a supported element type.
    #[error("{}: array `{name}` is malformed: {problem}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The array (empty for a plain `.npy` file).
        name: String,
        /// What is wrong.
        problem: String,
    },
}

/// Reads an `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray, NpzError> {
    let bytes = std::fs::read(path).map_err(|source| NpzError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_npy(&bytes).map_err(|problem| NpzError::Malformed {
        path: path.to_path_buf(),
        name: String::new(),
        problem,
    })
}

/// Writes `array` to an `.npy` file (little-endian `f32`).
pub fn write_npy(path: &Path, array: &NpyArray) -> Result<(), NpzError> {
    std::fs::write(path, encode_npy(array)).map_err(|source| NpzError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// An open `.npz` archive. Arrays are read one at a time, so a large checkpoint never needs to
/// be in memory twice.
pub struct Npz {
    path: PathBuf,
    archive: ZipArchive<BufReader<File>>,
    names: Vec<String>,
}

impl Npz {
    /// Opens the archive at `path` and lists its arrays.
    pub fn open(path: &Path) -> Result<Self, NpzError> {
        let file = File::open(path).map_err(|source| NpzError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let not_archive = |e: zip::result::ZipError| NpzError::NotAnArchive {
            path: path.to_path_buf(),
            problem: e.to_string(),
        };
        let archive = ZipArchive::new(BufReader::new(file)).map_err(not_archive)?;
        let mut names = Vec::with_capacity(archive.len());
        for name in archive.file_names() {
            let name = name.map_err(not_archive)?;
            names.push(name.strip_suffix(".npy").unwrap_or(&name).to_string());
        }
        names.sort();
        Ok(Self {
            path: path.to_path_buf(),
            archive,
            names,
        })
    }

    /// The archive's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the arrays, sorted (NumPy's keys: the member names without `.npy`).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the archive holds an array called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    /// Reads the array called `name`.
    pub fn read(&mut self, name: &str) -> Result<NpyArray, NpzError> {
        let member = format!("{name}.npy");
        let mut file = match self.archive.by_name(&member) {
            Ok(file) => file,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(NpzError::MissingArray {
                    path: self.path.clone(),
                    name: name.to_string(),
                    count: self.names.len(),
                });
            }
            Err(e) => {
                return Err(NpzError::NotAnArchive {
                    path: self.path.clone(),
                    problem: format!("cannot open member `{member}`: {e}"),
                });
            }
        };
        // The declared size only guides the first allocation: a damaged archive may lie.
        let declared = usize::try_from(file.size()).unwrap_or(0);
        let mut bytes = Vec::with_capacity(declared.min(1 << 30));
        file.read_to_end(&mut bytes)
            .map_err(|e| NpzError::NotAnArchive {
                path: self.path.clone(),
                problem: format!("cannot read member `{member}`: {e}"),
            })?;
        parse_npy(&bytes).map_err(|problem| NpzError::Malformed {
            path: self.path.clone(),
            name: name.to_string(),
            problem,
        })
    }
}

/// Writes `arrays` to an `.npz` archive at `path` (uncompressed, as `numpy.savez` does), each
/// under `<name>.npy`.
pub fn write_npz<'a>(
    path: &Path,
    arrays: impl IntoIterator<Item = (&'a str, &'a NpyArray)>,
) -> Result<(), NpzError> {
    let io = |source: std::io::Error| NpzError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io)?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for (name, array) in arrays {
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| io(std::io::Error::other(e)))?;
        zip.write_all(&encode_npy(array)).map_err(io)?;
    }
    let mut inner = zip.finish().map_err(|e| io(std::io::Error::other(e)))?;
    inner.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_round_trip_and_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let a = NpyArray::new(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = NpyArray::new(vec![1], vec![-1.0]).unwrap();
        write_npz(&path, [("x/b", &b), ("x/a", &a)]).unwrap();
        let mut npz = Npz::open(&path).unwrap();
        assert_eq!(npz.names(), ["x/a", "x/b"]);
        assert!(npz.contains("x/b") && !npz.contains("x"));
        assert_eq!(npz.read("x/a").unwrap(), a);
        assert_eq!(npz.read("x/b").unwrap(), b);
        let err = npz.read("x/c").unwrap_err().to_string();
        assert!(
            err.contains("no array named `x/c`") && err.contains("2 arrays"),
            "{err}"
        );

        let not_zip = dir.path().join("b.npz");
        std::fs::write(&not_zip, b"hello").unwrap();
        let err = Npz::open(&not_zip).err().unwrap().to_string();
        assert!(err.contains("not a readable .npz archive"), "{err}");
        let err = Npz::open(&dir.path().join("none.npz"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cannot access"), "{err}");
    }

    #[test]
    fn reads_deflated_members_as_numpy_savez_compressed_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.npz");
        let array = NpyArray::new(vec![5], vec![0.0, 0.0, 0.0, 0.0, 7.0]).unwrap();
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("w.npy", options).unwrap();
        zip.write_all(&encode_npy(&array)).unwrap();
        zip.finish().unwrap();
        assert_eq!(Npz::open(&path).unwrap().read("w").unwrap(), array);
    }
}
