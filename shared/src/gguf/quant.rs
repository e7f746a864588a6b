//! The element types of GGUF tensors and their dequantisation to `f32`.
//!
//! Quantised types store blocks of 32 weights with a shared scale:
//! - **Q8_0**: `f16 d`, then 32 × `i8 q`; `w = d · q` (34 bytes per block).
//! - **Q4_1**: `f16 d`, `f16 m`, then 16 bytes of 4-bit `q`; byte `j` holds weight `j` in its
//!   low nibble and weight `j + 16` in its high nibble; `w = d · q + m` (20 bytes per block).
//!
//! F32 and F16 are stored plainly. Other types (K-quants, Q4_0, Q5_x, BF16, …) are recognised by
//! name and refused with a clear error by the reader.

use half::f16;

/// Weights per quantisation block.
pub const BLOCK: usize = 32;

/// A tensor's element type (ggml's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    /// 32-bit float (0).
    F32,
    /// 16-bit float (1).
    F16,
    /// 4-bit blocks with a scale and a minimum (3).
    Q4_1,
    /// 8-bit blocks with a scale (8).
    Q8_0,
    /// Any other ggml type, by id (readable, not dequantisable here).
    Other(u32),
}

impl GgmlType {
    /// The type with ggml id `id`.
    pub fn from_id(id: u32) -> Self {
        match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            other => GgmlType::Other(other),
        }
    }

    /// The ggml id.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_1 => 3,
            GgmlType::Q8_0 => 8,
            GgmlType::Other(id) => id,
        }
    }

    /// Bytes taken by `n` elements (saturating, so an absurd count reads as an absurd size), or
    /// `None` if `n` is not a whole number of blocks. Types unknown here report 0: their size
    /// cannot be checked.
    pub fn byte_size(self, n: u64) -> Option<u64> {
        let blocks = |per_block: u64| {
            n.is_multiple_of(BLOCK as u64)
                .then(|| n / BLOCK as u64 * per_block)
        };
        match self {
            GgmlType::F32 => Some(n.saturating_mul(4)),
            GgmlType::F16 => Some(n.saturating_mul(2)),
            GgmlType::Q4_1 => blocks(20),
            GgmlType::Q8_0 => blocks(34),
            GgmlType::Other(_) => Some(0),
        }
    }
}

fn half_at(bytes: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[i], bytes[i + 1]])).to_f32()
}

/// The `f32` values of `bytes` stored as `kind`; `None` for types without a dequantiser here.
/// `bytes` must hold whole elements or blocks (the reader checks sizes before calling this).
pub fn dequantize(kind: GgmlType, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match kind {
        GgmlType::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        GgmlType::F16 => (0..bytes.len() / 2)
            .map(|i| half_at(bytes, 2 * i))
            .collect(),
        GgmlType::Q8_0 => bytes
            .chunks_exact(34)
            .flat_map(|block| {
                let d = half_at(block, 0);
                block[2..].iter().map(move |&q| d * f32::from(q as i8))
            })
            .collect(),
        GgmlType::Q4_1 => bytes
            .chunks_exact(20)
            .flat_map(|block| {
                let (d, m) = (half_at(block, 0), half_at(block, 2));
                let qs = &block[4..];
                let low = qs.iter().map(move |&q| d * f32::from(q & 0x0f) + m);
                let high = qs.iter().map(move |&q| d * f32::from(q >> 4) + m);
                low.chain(high)
            })
            .collect(),
        GgmlType::Other(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_1_block_by_hand() {
        // d = 0.5, m = -1: weight j (low nibble j % 16) and j + 16 (high nibble).
        let mut block = Vec::new();
        block.extend(f16::from_f32(0.5).to_bits().to_le_bytes());
        block.extend(f16::from_f32(-1.0).to_bits().to_le_bytes());
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let w = dequantize(GgmlType::Q4_1, &block).unwrap();
        assert_eq!(w.len(), 32);
        for j in 0..16 {
            assert_eq!(w[j], 0.5 * j as f32 - 1.0, "weight {j}");
            assert_eq!(w[j + 16], 0.5 * (15 - j) as f32 - 1.0, "weight {}", j + 16);
        }
    }

    #[test]
    fn q8_0_block_by_hand() {
        let mut block = f16::from_f32(0.25).to_bits().to_le_bytes().to_vec();
        block.extend((0..32).map(|i: i32| (i - 16) as i8 as u8));
        let w = dequantize(GgmlType::Q8_0, &block).unwrap();
        assert_eq!(w[0], -4.0);
        assert_eq!(w[16], 0.0);
        assert_eq!(w[31], 3.75);
    }

    #[test]
    fn plain_types_and_sizes() {
        let bytes: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(dequantize(GgmlType::F32, &bytes).unwrap(), vec![1.5, -2.0]);
        let bytes: Vec<u8> = [0.5f32, 65504.0]
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_bits().to_le_bytes())
            .collect();
        assert_eq!(
            dequantize(GgmlType::F16, &bytes).unwrap(),
            vec![0.5, 65504.0]
        );
        assert_eq!(GgmlType::Q4_1.byte_size(64), Some(40));
        assert_eq!(GgmlType::Q8_0.byte_size(33), None, "not whole blocks");
        assert_eq!(dequantize(GgmlType::Other(12), &[]), None);
        for id in [0, 1, 3, 8, 14] {
            assert_eq!(GgmlType::from_id(id).id(), id);
        }
    }
}
