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

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Decodes a whole `.npy` file; the error says what is wrong with it.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("it does not start with the .npy magic string \\x93NUMPY".into());
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(format!(
                ".npy format version {major} is not supported (1–3 are)"
            ));
        }
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or("the file ends inside its header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let descr = header_field(header, "descr")?;
    let dtype = ElementType::parse(descr.trim_matches(|c| c == '\'' || c == '"'))?;
    let fortran_order = match header_field(header, "fortran_order")? {
        "True" => true,
        "False" => false,
        other => return Err(format!("fortran_order is `{other}`, not True or False")),
    };
    let shape = parse_shape(header_field(header, "shape")?)?;
    let too_large = || format!("shape {shape:?} is too large to address");
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(too_large)?;
    let data = &bytes[data_start..];
    let needed = count.checked_mul(dtype.size).ok_or_else(too_large)?;
    if data.len() != needed {
        return Err(format!(
            "shape {shape:?} of {} needs {needed} bytes of data, the file has {}",
            dtype.name,
            data.len()
        ));
    }
    let values: Vec<f32> = data
        .chunks_exact(dtype.size)
        .map(|b| dtype.decode(b))
        .collect();
    let values = if fortran_order {
        fortran_to_c(&values, &shape)
    } else {
        values
    };
    Ok(NpyArray {
        shape,
        values,
        element_type: dtype.name,
    })
}

/// Encodes `array` as a version-1.0 `.npy` file of little-endian `f32` in C order.
pub fn encode_npy(array: &NpyArray) -> Vec<u8> {
    let shape = match array.shape.as_slice() {
        [one] => format!("({one},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so the data starts on a 64-byte boundary; the header ends in a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * array.values.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in &array.values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
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

/// The value of `key` in an `.npy` header (a Python dict literal), as written.
fn header_field<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let missing = || format!("the header has no `{key}`: {}", header.trim());
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))
        .ok_or_else(missing)?;
    let rest = header[at + key.len() + 2..].trim_start();
    let rest = rest.strip_prefix(':').ok_or_else(missing)?.trim_start();
    // A tuple runs to its closing parenthesis; anything else to the next comma or brace.
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(missing)?;
    Ok(rest[..end].trim())
}

/// `(3, 4)`, `(7,)` or `()` → the dimensions.
fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("shape `{text}` is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse()
                .map_err(|_| format!("shape `{text}` has a dimension that is not a number"))
        })
        .collect()
}

/// Reorders elements stored column-major (Fortran order) into row-major order.
fn fortran_to_c(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    let mut index = vec![0usize; shape.len()];
    for slot in out.iter_mut() {
        // `index` runs over C order; its Fortran offset has the first axis fastest.
        let mut offset = 0;
        for axis in (0..shape.len()).rev() {
            offset = offset * shape[axis] + index[axis];
        }
        *slot = values[offset];
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// An element type this reader decodes.
#[derive(Debug, Clone, Copy)]
struct ElementType {
    name: &'static str,
    kind: Kind,
    size: usize,
    big_endian: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
}

impl ElementType {
    /// From a NumPy `descr` such as `<f4` or `|u1`.
    fn parse(descr: &str) -> Result<Self, String> {
        let unsupported = || {
            format!(
                "element type `{descr}` is not supported (floats f2/f4/f8, integers i1–i8 and \
                 u1–u8, and bool are); convert it with `array.astype(numpy.float32)`"
            )
        };
        let mut chars = descr.chars();
        let order = chars.next().ok_or_else(unsupported)?;
        let big_endian = match order {
            '<' | '|' | '=' => false,
            '>' => true,
            _ => return Err(unsupported()),
        };
        let (kind, size) = match chars.as_str() {
            "f2" => (Kind::Float, 2),
            "f4" => (Kind::Float, 4),
            "f8" => (Kind::Float, 8),
            "i1" => (Kind::Signed, 1),
            "i2" => (Kind::Signed, 2),
            "i4" => (Kind::Signed, 4),
            "i8" => (Kind::Signed, 8),
            "u1" => (Kind::Unsigned, 1),
            "u2" => (Kind::Unsigned, 2),
            "u4" => (Kind::Unsigned, 4),
            "u8" => (Kind::Unsigned, 8),
            "b1" => (Kind::Bool, 1),
            _ => return Err(unsupported()),
        };
        let name = match (kind, size) {
            (Kind::Float, 2) => "float16",
            (Kind::Float, 4) => "float32",
            (Kind::Float, _) => "float64",
            (Kind::Signed, 1) => "int8",
            (Kind::Signed, 2) => "int16",
            (Kind::Signed, 4) => "int32",
            (Kind::Signed, _) => "int64",
            (Kind::Unsigned, 1) => "uint8",
            (Kind::Unsigned, 2) => "uint16",
            (Kind::Unsigned, 4) => "uint32",
            (Kind::Unsigned, _) => "uint64",
            (Kind::Bool, _) => "bool",
        };
        Ok(Self {
            name,
            kind,
            size,
            big_endian,
        })
    }

    /// One element's bytes → `f32`.
    fn decode(&self, bytes: &[u8]) -> f32 {
        let mut le = [0u8; 8];
        le[..self.size].copy_from_slice(bytes);
        if self.big_endian {
            le[..self.size].reverse();
        }
        match (self.kind, self.size) {
            (Kind::Float, 2) => half::f16::from_le_bytes([le[0], le[1]]).to_f32(),
            (Kind::Float, 4) => f32::from_le_bytes([le[0], le[1], le[2], le[3]]),
            (Kind::Float, _) => f64::from_le_bytes(le) as f32,
            (Kind::Unsigned, _) | (Kind::Bool, _) => u64::from_le_bytes(le) as f32,
            (Kind::Signed, size) => {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                ((i64::from_le_bytes(le) << shift) >> shift) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `.npy` file with a hand-written header and raw data, as NumPy would write it.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let fortran = if fortran { "True" } else { "False" };
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn f32_round_trips_through_encode_and_parse() {
        let array = NpyArray::new(vec![2, 3, 1], vec![0.5, -1.0, 2.25, 3.0, 1e-7, -8e5]).unwrap();
        let bytes = encode_npy(&array);
        assert_eq!(
            (bytes.len() - 4 * 6) % 64,
            0,
            "data starts on a 64-byte boundary"
        );
        assert_eq!(parse_npy(&bytes).unwrap(), array);
        let vector = NpyArray::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!(parse_npy(&encode_npy(&vector)).unwrap(), vector);
        let scalar = NpyArray::new(vec![], vec![4.0]).unwrap();
        assert_eq!(parse_npy(&encode_npy(&scalar)).unwrap(), scalar);
    }

    #[test]
    fn decodes_other_element_types_and_byte_orders() {
        let u8s = parse_npy(&npy("|u1", false, "(4,)", &[0, 1, 128, 255])).unwrap();
        assert_eq!(u8s.values(), [0.0, 1.0, 128.0, 255.0]);
        assert_eq!(u8s.element_type(), "uint8");
        let i16s: Vec<u8> = [-3i16, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let parsed = parse_npy(&npy("<i2", false, "(2,)", &i16s)).unwrap();
        assert_eq!(parsed.values(), [-3.0, 7.0]);
        let f64s: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let parsed = parse_npy(&npy(">f8", false, "(2,)", &f64s)).unwrap();
        assert_eq!(parsed.values(), [1.5, -2.0]);
        let f16s: Vec<u8> = [0.5f32, -4.0]
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        let parsed = parse_npy(&npy("<f2", false, "(1, 2)", &f16s)).unwrap();
        assert_eq!(parsed.values(), [0.5, -4.0]);
        assert_eq!(parsed.shape(), [1, 2]);
    }

    #[test]
    fn fortran_order_is_reordered_to_row_major() {
        // The 2×3 matrix [[0, 1, 2], [3, 4, 5]] stored column by column.
        let column_major: Vec<u8> = [0f32, 3.0, 1.0, 4.0, 2.0, 5.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let parsed = parse_npy(&npy("<f4", true, "(2, 3)", &column_major)).unwrap();
        assert_eq!(parsed.values(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // Rank 3: element (i, j, k) of a 2×2×2 array sits at i + 2j + 4k.
        let values: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let parsed = parse_npy(&npy("<f4", true, "(2, 2, 2)", &bytes)).unwrap();
        assert_eq!(parsed.values(), [0.0, 4.0, 2.0, 6.0, 1.0, 5.0, 3.0, 7.0]);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let err = parse_npy(b"PK\x03\x04 not an npy file").unwrap_err();
        assert!(err.contains("magic"), "{err}");
        let err = parse_npy(&npy("<c8", false, "(1,)", &[0; 8])).unwrap_err();
        assert!(err.contains("`<c8` is not supported"), "{err}");
        let err = parse_npy(&npy("<f4", false, "(3,)", &[0; 8])).unwrap_err();
        assert!(err.contains("needs 12 bytes"), "{err}");
        let err = parse_npy(&npy("<f4", false, "(a, 2)", &[])).unwrap_err();
        assert!(err.contains("not a number"), "{err}");
        let huge = format!("({}, 4)", usize::MAX / 2);
        let err = parse_npy(&npy("<f4", false, &huge, &[])).unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }

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
