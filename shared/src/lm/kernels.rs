//! The hot loops of a decoder pass on host memory: `Y = X Wᵀ` with `W` dequantised on the fly,
//! RMSNorm and SwiGLU's gate.
//!
//! SIMD comes from [`pulp`], which picks AVX2 + FMA at run time where the CPU has it and plain
//! scalar code elsewhere, in safe Rust; both cores come from [`rayon`] (the pool Burn's flex
//! backend uses too).
//!
//! **Batch invariance.** Every output `y[t, r] = Σ_c x[t, c] · w[r, c]` is accumulated in the
//! same order whatever the number of rows `n` of `X` and wherever row `t` sits in it: lanes of
//! one SIMD width over `c` in order, then the lane sum, then the leftover columns. So a
//! sequence's logits do not depend on which other sequences share its batch, and batched
//! greedy decoding equals one-sequence decoding token for token.

use std::cell::RefCell;

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use super::matrix::QuantMatrix;
use crate::gguf::quant::BLOCK;

/// Rows of `W` per parallel task: dequantised once, then used by every row of `X`.
const ROWS_PER_TASK: usize = 16;

/// `Y = X Wᵀ`: `x` is `n × w.cols()` row-major, the result `n × w.rows()`.
///
/// # Panics
/// If `x` does not hold `n` rows of `w.cols()` values.
pub fn matmul(w: &QuantMatrix, x: &[f32], n: usize) -> Vec<f32> {
    let (m, k) = (w.rows(), w.cols());
    assert_eq!(x.len(), n * k, "X must be {n} × {k}");
    if n == 0 || m == 0 {
        return Vec::new();
    }
    let arch = Arch::new();
    // Computed as Yᵀ (`m × n`), so that each task writes one contiguous run of rows.
    let mut yt = vec![0.0f32; m * n];
    yt.par_chunks_mut(ROWS_PER_TASK * n)
        .enumerate()
        .for_each(|(task, out)| {
            SCRATCH.with_borrow_mut(|scratch| {
                arch.dispatch(RowBlock {
                    w,
                    first: task * ROWS_PER_TASK,
                    x,
                    n,
                    out,
                    scratch,
                });
            });
        });
    if n == 1 {
        return yt;
    }
    let mut y = vec![0.0f32; n * m];
    for (r, row) in yt.chunks_exact(n).enumerate() {
        for (t, &v) in row.iter().enumerate() {
            y[t * m + r] = v;
        }
    }
    y
}

/// One task of [`matmul`]: rows `first..` of `W` (as many as `out` has room for) against every
/// row of `X`, written as `out[r · n + t]`.
struct RowBlock<'a> {
    w: &'a QuantMatrix,
    first: usize,
    x: &'a [f32],
    n: usize,
    out: &'a mut [f32],
    /// The thread's buffer for the dequantised rows.
    scratch: &'a mut Vec<f32>,
}

impl WithSimd for RowBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            w,
            first,
            x,
            n,
            out,
            scratch,
        } = self;
        let k = w.cols();
        let rows = out.len() / n;
        if n < 4 && w.f32_values().is_none() {
            fused_row_block(simd, w, first, x, out);
            return;
        }
        let tile: &[f32] = match w.f32_values() {
            Some(values) => &values[first * k..(first + rows) * k],
            None => {
                scratch.resize(rows * k, 0.0);
                w.dequantize_rows(first, &mut scratch[..rows * k]);
                &scratch[..rows * k]
            }
        };
        row_block(simd, tile, x, k, out);
    }
}

thread_local! {
    /// Each thread's buffer for the dequantised rows of one task (reused, never shrunk).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The products of the `f32` rows `tile` of `W` with every row of `X` (`k` columns).
#[inline(always)]
fn row_block<S: Simd>(simd: S, tile: &[f32], x: &[f32], k: usize, out: &mut [f32]) {
    let n = x.len() / k;
    let rows = tile.len() / k;
    let w_row = |r: usize| &tile[r * k..(r + 1) * k];
    let x_row = |t: usize| &x[t * k..(t + 1) * k];
    let mut r = 0;
    while r + 4 <= rows {
        let ws = [w_row(r), w_row(r + 1), w_row(r + 2), w_row(r + 3)];
        let mut t = 0;
        while t + 4 <= n {
            let xs = [x_row(t), x_row(t + 1), x_row(t + 2), x_row(t + 3)];
            let d = dots(simd, xs, ws);
            for (j, row) in d.iter().enumerate() {
                for (i, v) in row.iter().enumerate() {
                    out[(r + i) * n + t + j] = *v;
                }
            }
            t += 4;
        }
        for t in t..n {
            let [d] = dots(simd, [x_row(t)], ws);
            for (i, v) in d.iter().enumerate() {
                out[(r + i) * n + t] = *v;
            }
        }
        r += 4;
    }
    for r in r..rows {
        for t in 0..n {
            let [[d]] = dots(simd, [x_row(t)], [w_row(r)]);
            out[r * n + t] = d;
        }
    }
}

/// [`row_block`] for a few rows of `X` (decoding) and a quantised `W`: each block of 32 weights
/// is dequantised into registers just before its products instead of into a tile, with the
/// same values and the same order of accumulation, so the results are bit-identical.
#[inline(always)]
fn fused_row_block<S: Simd>(simd: S, w: &QuantMatrix, first: usize, x: &[f32], out: &mut [f32]) {
    let k = w.cols();
    let n = x.len() / k;
    let rows = out.len() / n;
    let mut r = 0;
    while r + 4 <= rows {
        for t in 0..n {
            let d = fused_dots(
                simd,
                w,
                [first + r, first + r + 1, first + r + 2, first + r + 3],
                &x[t * k..(t + 1) * k],
            );
            for (i, v) in d.iter().enumerate() {
                out[(r + i) * n + t] = *v;
            }
        }
        r += 4;
    }
    for r in r..rows {
        for t in 0..n {
            let [d] = fused_dots(simd, w, [first + r], &x[t * k..(t + 1) * k]);
            out[r * n + t] = d;
        }
    }
}

/// The dot products of `x` with rows `rows` of the quantised `w`, block by block.
#[inline(always)]
fn fused_dots<S: Simd, const R: usize>(
    simd: S,
    w: &QuantMatrix,
    rows: [usize; R],
    x: &[f32],
) -> [f32; R] {
    let (xv, _) = S::as_simd_f32s(x);
    let mut acc = [simd.splat_f32s(0.0); R];
    let mut weights = [[0.0f32; BLOCK]; R];
    let mut c = 0;
    for block in 0..w.cols() / BLOCK {
        for (i, &row) in rows.iter().enumerate() {
            w.dequantize_block(row, block, &mut weights[i]);
        }
        let chunks = S::as_simd_f32s(&weights[0]).0.len();
        for j in 0..chunks {
            for i in 0..R {
                let wv = S::as_simd_f32s(&weights[i]).0[j];
                acc[i] = simd.mul_add_f32s(xv[c + j], wv, acc[i]);
            }
        }
        c += chunks;
    }
    // `row_block` adds the sum of the columns left over after the last full SIMD vector,
    // none for whole blocks; adding that same empty sum keeps the two bit-identical even
    // when a product is −0.
    let tail: f32 = [0.0f32; 0].iter().sum();
    acc.map(|a| simd.reduce_sum_f32s(a) + tail)
}

/// The `T × R` dot products of `xs` with `ws` (all of one length), each accumulated in the
/// order the module's batch-invariance note describes.
#[inline(always)]
fn dots<S: Simd, const T: usize, const R: usize>(
    simd: S,
    xs: [&[f32]; T],
    ws: [&[f32]; R],
) -> [[f32; R]; T] {
    let xs = xs.map(S::as_simd_f32s);
    let ws = ws.map(S::as_simd_f32s);
    let mut acc = [[simd.splat_f32s(0.0); R]; T];
    for c in 0..ws[0].0.len() {
        for (r, w) in ws.iter().enumerate() {
            let w = w.0[c];
            for (t, x) in xs.iter().enumerate() {
                acc[t][r] = simd.mul_add_f32s(x.0[c], w, acc[t][r]);
            }
        }
    }
    let mut out = [[0.0; R]; T];
    for t in 0..T {
        for r in 0..R {
            let tail: f32 = xs[t].1.iter().zip(ws[r].1).map(|(a, b)| a * b).sum();
            out[t][r] = simd.reduce_sum_f32s(acc[t][r]) + tail;
        }
    }
    out
}

/// `a · b` with eight independent partial sums (which the compiler turns into SIMD lanes).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    for (a, b) in a8.iter().zip(b8) {
        for l in 0..8 {
            lanes[l] += a[l] * b[l];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f32>() + tail
}

/// `y ← y + a · x`.
#[inline(always)]
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// RMSNorm of every `gain.len()`-wide row of `x`: `x / sqrt(mean(x²) + ε) ⊙ g`.
pub fn rms_norm(x: &[f32], gain: &[f32], eps: f32) -> Vec<f32> {
    let d = gain.len();
    let mut out = vec![0.0; x.len()];
    for (row, out) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean_square = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        for ((o, &v), &g) in out.iter_mut().zip(row).zip(gain) {
            *o = v * scale * g;
        }
    }
    out
}

/// SwiGLU's gate on rows `[gate | up]` of width `2f`: `silu(gate) ⊙ up`, rows of width `f`.
pub fn swiglu(gate_up: &[f32], f: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(gate_up.len() / 2);
    for row in gate_up.chunks_exact(2 * f) {
        let (gate, up) = row.split_at(f);
        out.extend(
            gate.iter()
                .zip(up)
                .map(|(&g, &u)| g / (1.0 + (-g).exp()) * u),
        );
    }
    out
}

/// `y ← y + x`, elementwise.
pub fn add_into(y: &mut [f32], x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// The log-softmax of one row of logits, in `f64` for the normaliser.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let log_total = total.ln() as f32;
    logits.iter().map(|&l| l - max - log_total).collect()
}
