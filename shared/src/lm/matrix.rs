//! A weight matrix kept in the element type it was stored in.
//!
//! A matrix is `rows × cols`, row-major, the layout of a GGUF linear weight (`[out, in]`) and
//! of an embedding table (`[vocab, d]`). Quantised rows are runs of 32-weight blocks along
//! `cols` (see [`crate::gguf::quant`] for the formats):
//! - **Q8_0**: `w = d · q`, `q` an `i8`;
//! - **Q4_1**: `w = d · q + m`, `q` a 4-bit unsigned integer.
//!
//! The block scales are converted from `f16` to `f32` once, at load, so the kernels never touch
//! half floats; a Q4_1 weight then costs 0.75 bytes instead of 4.

use half::f16;

use crate::gguf::quant::{BLOCK, GgmlType};

/// The storage of a [`QuantMatrix`].
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    /// Plain `f32` values, row-major.
    F32(Vec<f32>),
    /// One scale per block and 32 `i8` per block.
    Q8_0 {
        /// `d` per block.
        scales: Vec<f32>,
        /// `q`, 32 per block.
        quants: Vec<i8>,
    },
    /// One scale and one minimum per block, 16 bytes of nibbles per block (byte `j` holds
    /// weight `j` in its low nibble and weight `j + 16` in its high one).
    Q4_1 {
        /// `d` per block.
        scales: Vec<f32>,
        /// `m` per block.
        mins: Vec<f32>,
        /// Packed `q`, 16 bytes per block.
        nibbles: Vec<u8>,
    },
}

/// A `rows × cols` weight matrix in F32, Q8_0 or Q4_1 blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantMatrix {
    rows: usize,
    cols: usize,
    storage: Storage,
}

/// A matrix whose data does not fit its shape or type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {rows} × {cols} matrix of {kind}: {problem}")]
pub struct MatrixError {
    rows: usize,
    cols: usize,
    kind: &'static str,
    problem: String,
}

impl QuantMatrix {
    /// A plain `f32` matrix.
    ///
    /// # Errors
    /// If `values` does not hold `rows · cols` numbers.
    pub fn from_f32(rows: usize, cols: usize, values: Vec<f32>) -> Result<Self, MatrixError> {
        if values.len() != rows * cols {
            return Err(MatrixError {
                rows,
                cols,
                kind: "F32",
                problem: format!("{} values given", values.len()),
            });
        }
        Ok(Self {
            rows,
            cols,
            storage: Storage::F32(values),
        })
    }

    /// The matrix stored in a GGUF tensor of type `kind` (F32, F16, Q8_0 or Q4_1); F16 is
    /// widened to F32.
    ///
    /// # Errors
    /// If the type is another one, `cols` is not a whole number of blocks of a quantised
    /// type, or `bytes` has the wrong length.
    pub fn from_gguf(
        kind: GgmlType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
    ) -> Result<Self, MatrixError> {
        let error = |problem: String| MatrixError {
            rows,
            cols,
            kind: type_name(kind),
            problem,
        };
        let quantised = matches!(kind, GgmlType::Q8_0 | GgmlType::Q4_1);
        if quantised && !cols.is_multiple_of(BLOCK) {
            return Err(error(format!("rows are not whole blocks of {BLOCK}")));
        }
        let unsupported = || error("no kernel for this type".into());
        if matches!(kind, GgmlType::Other(_)) {
            return Err(unsupported());
        }
        let expected = kind.byte_size((rows * cols) as u64);
        if expected != Some(bytes.len() as u64) {
            return Err(error(format!("{} bytes given", bytes.len())));
        }
        let half_at = |b: &[u8], i: usize| f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]]));
        let storage = match kind {
            GgmlType::F32 => Storage::F32(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            GgmlType::F16 => Storage::F32(
                (0..bytes.len() / 2)
                    .map(|i| half_at(bytes, 2 * i).to_f32())
                    .collect(),
            ),
            GgmlType::Q8_0 => Storage::Q8_0 {
                scales: bytes
                    .chunks_exact(34)
                    .map(|b| half_at(b, 0).to_f32())
                    .collect(),
                quants: bytes
                    .chunks_exact(34)
                    .flat_map(|b| b[2..].iter().map(|&q| q as i8))
                    .collect(),
            },
            GgmlType::Q4_1 => Storage::Q4_1 {
                scales: bytes
                    .chunks_exact(20)
                    .map(|b| half_at(b, 0).to_f32())
                    .collect(),
                mins: bytes
                    .chunks_exact(20)
                    .map(|b| half_at(b, 2).to_f32())
                    .collect(),
                nibbles: bytes
                    .chunks_exact(20)
                    .flat_map(|b| b[4..].iter().copied())
                    .collect(),
            },
            GgmlType::Other(_) => return Err(unsupported()),
        };
        Ok(Self {
            rows,
            cols,
            storage,
        })
    }

    /// Quantises `values` (`rows × cols`, row-major) to Q8_0 the way llama.cpp does:
    /// `d = max|w| / 127`, `q = round(w / d)`, with the scale rounded to `f16`.
    ///
    /// # Errors
    /// If the sizes do not match or `cols` is not a multiple of 32.
    pub fn quantize_q8_0(rows: usize, cols: usize, values: &[f32]) -> Result<Self, MatrixError> {
        check_blocks(rows, cols, values, "Q8_0")?;
        let (mut scales, mut quants) = (Vec::new(), Vec::with_capacity(values.len()));
        for block in values.chunks_exact(BLOCK) {
            let amax = block.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            let d = f16::from_f32(amax / 127.0).to_f32();
            let inverse = if d > 0.0 { 1.0 / d } else { 0.0 };
            scales.push(d);
            quants.extend(block.iter().map(|w| (w * inverse).round() as i8));
        }
        Ok(Self {
            rows,
            cols,
            storage: Storage::Q8_0 { scales, quants },
        })
    }

    /// Quantises `values` to Q4_1 the way llama.cpp does: `m = min w`,
    /// `d = (max w − m) / 15`, `q = round((w − m) / d)` clamped to `0..=15`, `d` and `m` rounded to
    /// `f16`.
    ///
    /// # Errors
    /// If the sizes do not match or `cols` is not a multiple of 32.
    pub fn quantize_q4_1(rows: usize, cols: usize, values: &[f32]) -> Result<Self, MatrixError> {
        check_blocks(rows, cols, values, "Q4_1")?;
        let (mut scales, mut mins) = (Vec::new(), Vec::new());
        let mut nibbles = Vec::with_capacity(values.len() / 2);
        for block in values.chunks_exact(BLOCK) {
            let min = block.iter().copied().fold(f32::INFINITY, f32::min);
            let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = f16::from_f32((max - min) / 15.0).to_f32();
            let m = f16::from_f32(min).to_f32();
            let inverse = if d > 0.0 { 1.0 / d } else { 0.0 };
            let q = |w: f32| ((w - m) * inverse).round().clamp(0.0, 15.0) as u8;
            scales.push(d);
            mins.push(m);
            nibbles.extend((0..BLOCK / 2).map(|j| q(block[j]) | (q(block[j + BLOCK / 2]) << 4)));
        }
        Ok(Self {
            rows,
            cols,
            storage: Storage::Q4_1 {
                scales,
                mins,
                nibbles,
            },
        })
    }

    /// Rows (outputs of a linear layer).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (inputs of a linear layer).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Bytes the weights take in memory.
    pub fn byte_size(&self) -> usize {
        match &self.storage {
            Storage::F32(v) => 4 * v.len(),
            Storage::Q8_0 { scales, quants } => 4 * scales.len() + quants.len(),
            Storage::Q4_1 {
                scales,
                mins,
                nibbles,
            } => 4 * (scales.len() + mins.len()) + nibbles.len(),
        }
    }

    /// Writes rows `first..first + out.len() / cols` as `f32` into `out`.
    ///
    /// # Panics
    /// If those rows are not all in the matrix.
    #[inline(always)]
    pub fn dequantize_rows(&self, first: usize, out: &mut [f32]) {
        let start = first * self.cols;
        let blocks = start / BLOCK..(start + out.len()) / BLOCK;
        match &self.storage {
            Storage::F32(values) => out.copy_from_slice(&values[start..start + out.len()]),
            Storage::Q8_0 { scales, quants } => {
                let (quants, _) = quants[start..start + out.len()].as_chunks::<BLOCK>();
                let (out, _) = out.as_chunks_mut::<BLOCK>();
                for ((out, q), &d) in out.iter_mut().zip(quants).zip(&scales[blocks]) {
                    dequantize_q8_0_block(d, q, out);
                }
            }
            Storage::Q4_1 {
                scales,
                mins,
                nibbles,
            } => {
                let (nibbles, _) = nibbles[start / 2..(start + out.len()) / 2].as_chunks::<16>();
                let (out, _) = out.as_chunks_mut::<BLOCK>();
                let params = scales[blocks.clone()].iter().zip(&mins[blocks]);
                for ((out, q), (&d, &m)) in out.iter_mut().zip(nibbles).zip(params) {
                    dequantize_q4_1_block(d, m, q, out);
                }
            }
        }
    }

    /// Writes block `block` of row `row` (a quantised matrix's weights `32·block..32·block + 32`
    /// of that row) as `f32` into `out`; the same values [`dequantize_rows`](Self::dequantize_rows)
    /// writes. Returns `false`, writing nothing, for an `f32` matrix.
    #[inline(always)]
    pub(crate) fn dequantize_block(
        &self,
        row: usize,
        block: usize,
        out: &mut [f32; BLOCK],
    ) -> bool {
        let b = row * (self.cols / BLOCK) + block;
        match &self.storage {
            Storage::F32(_) => return false,
            Storage::Q8_0 { scales, quants } => {
                let (q, _) = quants[b * BLOCK..(b + 1) * BLOCK].as_chunks::<BLOCK>();
                dequantize_q8_0_block(scales[b], &q[0], out);
            }
            Storage::Q4_1 {
                scales,
                mins,
                nibbles,
            } => {
                let (q, _) = nibbles[b * 16..(b + 1) * 16].as_chunks::<16>();
                dequantize_q4_1_block(scales[b], mins[b], &q[0], out);
            }
        }
        true
    }

    /// Every value as `f32`, row-major.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.rows * self.cols];
        self.dequantize_rows(0, &mut out);
        out
    }

    /// The plain `f32` values when the matrix is stored that way (the kernels then read them in
    /// place).
    pub fn f32_values(&self) -> Option<&[f32]> {
        match &self.storage {
            Storage::F32(values) => Some(values),
            _ => None,
        }
    }

    /// The rows of `parts` one after another (all with the same `cols`), e.g. `W_Q`, `W_K` and
    /// `W_V` as one matrix so that one product computes all three. Parts of one storage type
    /// stay in it; a mix is widened to `f32`.
    ///
    /// # Errors
    /// If the parts have different numbers of columns, or there are none.
    pub fn stack_rows(parts: Vec<QuantMatrix>) -> Result<Self, MatrixError> {
        let cols = parts.first().map_or(0, |p| p.cols);
        let rows = parts.iter().map(|p| p.rows).sum();
        if parts.is_empty() || parts.iter().any(|p| p.cols != cols) {
            return Err(MatrixError {
                rows,
                cols,
                kind: "stacked rows",
                problem: "the parts must be one or more matrices with equal columns".into(),
            });
        }
        let same = |f: fn(&Storage) -> bool| parts.iter().all(|p| f(&p.storage));
        let storage = if same(|s| matches!(s, Storage::Q8_0 { .. })) {
            let (mut scales, mut quants) = (Vec::new(), Vec::new());
            for part in parts {
                if let Storage::Q8_0 {
                    scales: s,
                    quants: q,
                } = part.storage
                {
                    scales.extend(s);
                    quants.extend(q);
                }
            }
            Storage::Q8_0 { scales, quants }
        } else if same(|s| matches!(s, Storage::Q4_1 { .. })) {
            let (mut scales, mut mins, mut nibbles) = (Vec::new(), Vec::new(), Vec::new());
            for part in parts {
                if let Storage::Q4_1 {
                    scales: s,
                    mins: m,
                    nibbles: n,
                } = part.storage
                {
                    scales.extend(s);
                    mins.extend(m);
                    nibbles.extend(n);
                }
            }
            Storage::Q4_1 {
                scales,
                mins,
                nibbles,
            }
        } else {
            Storage::F32(parts.iter().flat_map(QuantMatrix::to_f32).collect())
        };
        Ok(Self {
            rows,
            cols,
            storage,
        })
    }
}

/// `w = d · q` for one Q8_0 block (fixed sizes, so the compiler vectorises it whole).
#[inline(always)]
fn dequantize_q8_0_block(d: f32, q: &[i8; BLOCK], out: &mut [f32; BLOCK]) {
    for j in 0..BLOCK {
        out[j] = d * f32::from(q[j]);
    }
}

/// `w = d · q + m` for one Q4_1 block: weight `j` in the low nibble of byte `j`, weight
/// `j + 16` in its high nibble.
#[inline(always)]
fn dequantize_q4_1_block(d: f32, m: f32, q: &[u8; 16], out: &mut [f32; BLOCK]) {
    let mut levels = [0u8; BLOCK];
    for j in 0..16 {
        levels[j] = q[j] & 0x0f;
        levels[j + 16] = q[j] >> 4;
    }
    for (o, &l) in out.iter_mut().zip(&levels) {
        *o = d * f32::from(l) + m;
    }
}

fn check_blocks(
    rows: usize,
    cols: usize,
    values: &[f32],
    kind: &'static str,
) -> Result<(), MatrixError> {
    let problem = if values.len() != rows * cols {
        format!("{} values given", values.len())
    } else if !cols.is_multiple_of(BLOCK) {
        format!("rows are not whole blocks of {BLOCK}")
    } else {
        return Ok(());
    };
    Err(MatrixError {
        rows,
        cols,
        kind,
        problem,
    })
}

fn type_name(kind: GgmlType) -> &'static str {
    match kind {
        GgmlType::F32 => "F32",
        GgmlType::F16 => "F16",
        GgmlType::Q8_0 => "Q8_0",
        GgmlType::Q4_1 => "Q4_1",
        GgmlType::Other(_) => "an unsupported ggml type",
    }
}
