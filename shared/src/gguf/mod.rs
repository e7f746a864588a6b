//! GGUF, the single-file model format of llama.cpp: a header, typed metadata, tensor
//! descriptions, then the tensor data, aligned.
//!
//! Layout (version 3, little-endian throughout):
//! 1. `"GGUF"`, version `u32`, tensor count `u64`, metadata count `u64`;
//! 2. metadata: key (a string: `u64` length + UTF-8 bytes), value type `u32`, value;
//! 3. per tensor: name, number of dimensions `u32`, dimensions `u64` each (fastest-varying
//!    first), element type `u32`, offset `u64` into the data section;
//! 4. the data section, starting at the next multiple of `general.alignment` (default 32).
//!
//! [`GgufFile::read`] checks every length against the bytes that remain before allocating, so a
//! truncated or corrupt file is an error naming what is wrong, never a panic or a huge
//! allocation. [`quant`] turns the stored element types (F32, F16, Q8_0, Q4_1) into `f32`;
//! [`llama`] loads a Llama model into the shared decoder; [`tokenizer`] rebuilds its byte-level
//! BPE tokenizer and chat format from the metadata.

pub mod llama;
pub mod quant;
pub mod tokenizer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use llama::{llama_config, load_llama};
pub use quant::GgmlType;
pub use tokenizer::{BpeTokenizer, ChatMessage, chat_prompt};

/// The file's magic bytes.
pub const MAGIC: &[u8; 4] = b"GGUF";

/// Data alignment when the file does not set `general.alignment`.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// `u8` (type 0).
    U8(u8),
    /// `i8` (type 1).
    I8(i8),
    /// `u16` (type 2).
    U16(u16),
    /// `i16` (type 3).
    I16(i16),
    /// `u32` (type 4).
    U32(u32),
    /// `i32` (type 5).
    I32(i32),
    /// `f32` (type 6).
    F32(f32),
    /// `bool` (type 7).
    Bool(bool),
    /// UTF-8 string (type 8).
    Str(String),
    /// Array of one element type (type 9).
    Array(Vec<MetaValue>),
    /// `u64` (type 10).
    U64(u64),
    /// `i64` (type 11).
    I64(i64),
    /// `f64` (type 12).
    F64(f64),
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(u64::from(v)),
            MetaValue::U16(v) => Some(u64::from(v)),
            MetaValue::U32(v) => Some(u64::from(v)),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(f64::from(v)),
            MetaValue::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// One tensor's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions as stored: fastest-varying first (the reverse of a row-major shape).
    pub dims: Vec<u64>,
    /// Element type.
    pub kind: GgmlType,
    /// Offset into the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements.
    ///
    /// Saturates at `u64::MAX` for a corrupt file's absurd dimensions (which the reader then
    /// refuses as larger than the file).
    pub fn len(&self) -> u64 {
        self.dims.iter().fold(1u64, |n, &d| n.saturating_mul(d))
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row-major shape (slowest-varying first), as Burn and PyTorch write it.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// A GGUF file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("could not read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: it starts with {found:?}, not \"GGUF\"")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A version this reader does not know.
    #[error("GGUF version {0} is not supported (versions 2 and 3 are)")]
    UnsupportedVersion(u32),
    /// The file ends before a field it announces.
    #[error("file truncated: {what} at byte {offset} needs {needed} bytes, {available} remain")]
    Truncated {
        /// What was being read.
        what: String,
        /// Where.
        offset: u64,
        /// Bytes needed.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
    /// A malformed field (bad UTF-8, unknown value type, …).
    #[error("malformed GGUF: {0}")]
    Malformed(String),
    /// A tensor of an element type without a dequantiser here.
    #[error(
        "tensor `{tensor}` has element type {kind:?}, which this reader cannot dequantise (supported: F32, F16, Q8_0, Q4_1)"
    )]
    UnsupportedType {
        /// The tensor.
        tensor: String,
        /// Its type.
        kind: GgmlType,
    },
    /// A tensor the caller asked for is not in the file.
    #[error("no tensor `{0}` in the file")]
    MissingTensor(String),
    /// A metadata key the caller needs is absent or of another type.
    #[error("metadata `{key}` is missing or not {expected}")]
    MissingKey {
        /// The key.
        key: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// A parsed GGUF file, its bytes kept in memory.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata by key.
    pub metadata: BTreeMap<String, MetaValue>,
    /// Tensor descriptions in file order.
    pub tensors: Vec<TensorInfo>,
    data_start: u64,
    bytes: Vec<u8>,
}

/// A bounds-checked little-endian reader over the file's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        let available = (self.bytes.len() - self.at) as u64;
        if n > available {
            return Err(GgufError::Truncated {
                what: what.to_string(),
                offset: self.at as u64,
                needed: n,
                available,
            });
        }
        let start = self.at;
        self.at += n as usize;
        Ok(&self.bytes[start..self.at])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| GgufError::Malformed(format!("{what} is not UTF-8")))
    }

    /// A count that must fit in what remains, at `min_size` bytes per element.
    fn count(&mut self, what: &str, min_size: u64) -> Result<u64, GgufError> {
        let n = self.u64(what)?;
        let available = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(min_size) > available {
            return Err(GgufError::Truncated {
                what: format!("{n} × {what}"),
                offset: self.at as u64,
                needed: n.saturating_mul(min_size),
                available,
            });
        }
        Ok(n)
    }

    fn value(&mut self, kind: u32, key: &str, depth: usize) -> Result<MetaValue, GgufError> {
        Ok(match kind {
            0 => MetaValue::U8(self.array::<1>(key)?[0]),
            1 => MetaValue::I8(i8::from_le_bytes(self.array(key)?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.array(key)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array(key)?)),
            4 => MetaValue::U32(self.u32(key)?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array(key)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array(key)?)),
            7 => MetaValue::Bool(self.array::<1>(key)?[0] != 0),
            8 => MetaValue::Str(self.string(key)?),
            9 if depth == 0 => {
                let inner = self.u32(key)?;
                let n = self.count(key, 1)?;
                // The count is bounded by the bytes left, but not tightly: grow as items arrive.
                let mut items = Vec::with_capacity((n as usize).min(4096));
                for _ in 0..n {
                    items.push(self.value(inner, key, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::U64(self.u64(key)?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array(key)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array(key)?)),
            other => {
                return Err(GgufError::Malformed(format!(
                    "metadata `{key}` has value type {other}, which GGUF does not define{}",
                    if other == 9 { " (nested arrays)" } else { "" }
                )));
            }
        })
    }
}

impl GgufFile {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// If the file cannot be read or is not a well-formed GGUF file.
    pub fn read(path: &Path) -> Result<Self, GgufError> {
        let bytes = std::fs::read(path).map_err(|source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(bytes)
    }

    /// Parses a GGUF file held in memory.
    ///
    /// # Errors
    /// If the bytes are not a well-formed GGUF file: the message names the field at fault.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, GgufError> {
        let mut c = Cursor {
            bytes: &bytes,
            at: 0,
        };
        let magic: [u8; 4] = c.array("magic")?;
        if &magic != MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        // Every tensor description takes at least 8 + 4 + 4 + 8 bytes; every key-value at
        // least 8 + 4 + 1.
        let n_tensors = c.count("tensor description", 24)?;
        let n_meta = c.count("metadata entry", 13)?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_meta {
            let key = c.string("metadata key")?;
            let kind = c.u32(&key)?;
            let value = c.value(kind, &key, 0)?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::with_capacity((n_tensors as usize).min(4096));
        for _ in 0..n_tensors {
            let name = c.string("tensor name")?;
            let n_dims = c.u32(&name)?;
            if n_dims == 0 || n_dims > 8 {
                return Err(GgufError::Malformed(format!(
                    "tensor `{name}` has {n_dims} dimensions"
                )));
            }
            let dims = (0..n_dims)
                .map(|_| c.u64(&name))
                .collect::<Result<Vec<_>, _>>()?;
            let kind = GgmlType::from_id(c.u32(&name)?);
            let offset = c.u64(&name)?;
            tensors.push(TensorInfo {
                name,
                dims,
                kind,
                offset,
            });
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => v
                .as_u64()
                .filter(|a| *a > 0 && a.is_power_of_two())
                .ok_or_else(|| {
                    GgufError::Malformed(format!("general.alignment is {v:?}, not a power of two"))
                })?,
        };
        let data_start = (c.at as u64).div_ceil(alignment) * alignment;
        let file = Self {
            version,
            metadata,
            tensors,
            data_start,
            bytes,
        };
        for t in &file.tensors {
            file.tensor_bytes(t)?;
        }
        Ok(file)
    }

    /// The tensor called `name`.
    ///
    /// # Errors
    /// If there is none.
    pub fn tensor_info(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| GgufError::MissingTensor(name.to_string()))
    }

    /// The stored bytes of a tensor, checked against the file's end.
    fn tensor_bytes(&self, t: &TensorInfo) -> Result<&[u8], GgufError> {
        let size = t.kind.byte_size(t.len()).ok_or_else(|| {
            GgufError::Malformed(format!(
                "tensor `{}`: {} elements of {:?} do not fill whole blocks",
                t.name,
                t.len(),
                t.kind
            ))
        })?;
        let start = self.data_start.saturating_add(t.offset);
        let end = start.saturating_add(size);
        if end > self.bytes.len() as u64 {
            return Err(GgufError::Truncated {
                what: format!("data of tensor `{}`", t.name),
                offset: start,
                needed: size,
                available: (self.bytes.len() as u64).saturating_sub(start),
            });
        }
        Ok(&self.bytes[start as usize..end as usize])
    }

    /// The tensor called `name` as stored: its description and its bytes (checked to be all
    /// there), for readers that keep the quantised blocks.
    ///
    /// # Errors
    /// If it is missing or its data runs past the end of the file.
    pub fn tensor_data(&self, name: &str) -> Result<(&TensorInfo, &[u8]), GgufError> {
        let info = self.tensor_info(name)?;
        Ok((info, self.tensor_bytes(info)?))
    }

    /// The tensor called `name` as `f32` values (row-major) and its row-major shape.
    ///
    /// # Errors
    /// If it is missing or of a type that cannot be dequantised here.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), GgufError> {
        let info = self.tensor_info(name)?;
        let bytes = self.tensor_bytes(info)?;
        let values =
            quant::dequantize(info.kind, bytes).ok_or_else(|| GgufError::UnsupportedType {
                tensor: info.name.clone(),
                kind: info.kind,
            })?;
        Ok((values, info.shape()))
    }

    /// Metadata value `key`.
    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// Metadata `key` as an unsigned integer.
    ///
    /// # Errors
    /// If it is missing or not a non-negative integer.
    pub fn meta_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.meta(key)
            .and_then(MetaValue::as_u64)
            .ok_or_else(|| GgufError::MissingKey {
                key: key.to_string(),
                expected: "an unsigned integer",
            })
    }

    /// Metadata `key` as a float.
    ///
    /// # Errors
    /// If it is missing or not a number.
    pub fn meta_f64(&self, key: &str) -> Result<f64, GgufError> {
        self.meta(key)
            .and_then(MetaValue::as_f64)
            .ok_or_else(|| GgufError::MissingKey {
                key: key.to_string(),
                expected: "a number",
            })
    }

    /// Metadata `key` as a string.
    ///
    /// # Errors
    /// If it is missing or not a string.
    pub fn meta_str(&self, key: &str) -> Result<&str, GgufError> {
        self.meta(key)
            .and_then(MetaValue::as_str)
            .ok_or_else(|| GgufError::MissingKey {
                key: key.to_string(),
                expected: "a string",
            })
    }

    /// Total number of elements over all tensors.
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |n, t| n.saturating_add(t.len()))
    }
}

#[cfg(test)]
mod tests;
