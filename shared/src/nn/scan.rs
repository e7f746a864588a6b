//! The diagonal linear recurrence `h_t = a_t ⊙ h_{t−1} + b_t` over time, three ways.
//!
//! Linear recurrent layers (the LRU of TRecViT and Griffin) spend their time here. Burn has no
//! associative scan, so besides the plain loop there are two forms built from whole-tensor ops:
//! a log-depth (Hillis–Steele) scan and a chunked form that materialises each chunk's decay
//! matrix. All three compute the same thing and are tested against each other, gradients
//! included.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// How [`linear_scan`] runs over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanImpl {
    /// One step per frame: the reference, and the fastest for short sequences on a CPU.
    Sequential,
    /// `⌈log₂ T⌉` rounds of `H[t] += A[t]·H[t−k]`, `A[t] *= A[t−k]` for `k = 1, 2, 4, …`.
    LogDepth,
    /// Chunks of this many steps; inside a chunk `h_t = Σ_{s≤t} exp(L_t − L_s) b_s` with
    /// `L = cumsum(log a)`, a masked `chunk × chunk` product, and the state carried between
    /// chunks. Exponents are differences `L_t − L_s ≤ 0`, so nothing overflows.
    Chunked {
        /// Steps per chunk.
        chunk: usize,
    },
}

/// Runs `h_t = a_t ⊙ h_{t−1} + b_t` over `t = 0..T` from `h_{−1} = h0` (zero when `None`).
///
/// `a` and `b` are `[B, T, W]`, `h0` is `[B, W]`. Returns every `h_t` (`[B, T, W]`) and the last
/// one (`[B, W]`), which continues the recurrence on the next call. `Chunked` needs `a > 0`
/// (it takes logarithms), which the gated LRU's decays always are.
pub fn linear_scan(
    a: Tensor<3>,
    b: Tensor<3>,
    h0: Option<Tensor<2>>,
    scan: ScanImpl,
) -> (Tensor<3>, Tensor<2>) {
    let [batch, time, width] = b.dims();
    if time == 0 {
        let last = h0.unwrap_or_else(|| Tensor::zeros([batch, width], &b.device()));
        return (b, last);
    }
    let h = match scan {
        ScanImpl::Sequential => sequential(a, b, h0),
        ScanImpl::LogDepth => log_depth(a, b, h0),
        ScanImpl::Chunked { chunk } => chunked(a, b, h0, chunk.max(1)),
    };
    let last = h
        .clone()
        .slice(s![.., time - 1..time, ..])
        .reshape([batch, width]);
    (h, last)
}

fn step(x: &Tensor<3>, t: usize) -> Tensor<3> {
    x.clone().slice(s![.., t..t + 1, ..])
}

fn sequential(a: Tensor<3>, b: Tensor<3>, h0: Option<Tensor<2>>) -> Tensor<3> {
    let [batch, time, width] = b.dims();
    let mut h: Option<Tensor<3>> = h0.map(|h| h.reshape([batch, 1, width]));
    let mut out = Vec::with_capacity(time);
    for t in 0..time {
        let next = match h {
            Some(prev) => step(&a, t) * prev + step(&b, t),
            None => step(&b, t),
        };
        out.push(next.clone());
        h = Some(next);
    }
    Tensor::cat(out, 1)
}

/// `x` moved `k` steps later in time, the first `k` steps filled with `fill`.
fn shifted(x: &Tensor<3>, k: usize, fill: f32) -> Tensor<3> {
    let [batch, time, width] = x.dims();
    let head = Tensor::full([batch, k, width], fill, &x.device());
    Tensor::cat(vec![head, x.clone().slice(s![.., 0..time - k, ..])], 1)
}

fn log_depth(a: Tensor<3>, b: Tensor<3>, h0: Option<Tensor<2>>) -> Tensor<3> {
    let [batch, time, width] = b.dims();
    // Fold the initial state into the first input: h_0 = a_0 h0 + b_0.
    let mut h = match h0 {
        Some(h0) => {
            let first = step(&a, 0) * h0.reshape([batch, 1, width]) + step(&b, 0);
            if time == 1 {
                first
            } else {
                Tensor::cat(vec![first, b.slice(s![.., 1..time, ..])], 1)
            }
        }
        None => b,
    };
    let mut a = a;
    let mut k = 1;
    while k < time {
        h = h.clone() + a.clone() * shifted(&h, k, 0.0);
        a = a.clone() * shifted(&a, k, 1.0);
        k *= 2;
    }
    h
}

fn chunked(a: Tensor<3>, b: Tensor<3>, h0: Option<Tensor<2>>, chunk: usize) -> Tensor<3> {
    let [batch, time, width] = b.dims();
    let device = b.device();
    let mut state = h0;
    let mut out = Vec::with_capacity(time.div_ceil(chunk));
    for start in (0..time).step_by(chunk) {
        let end = (start + chunk).min(time);
        let c = end - start;
        let log_a = a.clone().slice(s![.., start..end, ..]).log();
        let bc = b.clone().slice(s![.., start..end, ..]);
        // L_t = Σ_{r≤t} log a_r within the chunk; D[t, s] = exp(L_t − L_s) for s ≤ t.
        let cum = log_a.cumsum(1);
        let diff =
            cum.clone().reshape([batch, c, 1, width]) - cum.clone().reshape([batch, 1, c, width]);
        let above = Tensor::<2, Bool>::tril_mask([c, c], 0, &device).reshape([1, c, c, 1]);
        let decay = diff
            .mask_fill(above.expand([batch, c, c, width]), f32::NEG_INFINITY)
            .exp();
        // h_t = Σ_s D[t, s] b_s + exp(L_t) h_start
        let mut h = (decay * bc.reshape([batch, 1, c, width]))
            .sum_dim(2)
            .reshape([batch, c, width]);
        if let Some(prev) = state {
            h = h + cum.exp() * prev.reshape([batch, 1, width]);
        }
        state = Some(
            h.clone()
                .slice(s![.., c - 1..c, ..])
                .reshape([batch, width]),
        );
        out.push(h);
    }
    Tensor::cat(out, 1)
}

/// A complex tensor as its real and imaginary parts (Burn 0.22 has no complex dtype).
#[derive(Debug, Clone)]
pub struct ComplexTensor<const D: usize> {
    /// Real part.
    pub re: Tensor<D>,
    /// Imaginary part.
    pub im: Tensor<D>,
}

impl<const D: usize> ComplexTensor<D> {
    /// `self · other`.
    pub fn times(self, other: Self) -> Self {
        Self {
            re: self.re.clone() * other.re.clone() - self.im.clone() * other.im.clone(),
            im: self.re * other.im + self.im * other.re,
        }
    }

    /// `self + other`.
    pub fn plus(self, other: Self) -> Self {
        Self {
            re: self.re + other.re,
            im: self.im + other.im,
        }
    }

    fn map(self, f: impl Fn(Tensor<D>) -> Tensor<D>) -> Self {
        Self {
            re: f(self.re),
            im: f(self.im),
        }
    }
}

/// [`linear_scan`] for complex `a`, `b` and `h`: `h_t = a_t h_{t−1} + b_t` with complex
/// products. `Chunked` needs `a ≠ 0`.
pub fn complex_linear_scan(
    a: ComplexTensor<3>,
    b: ComplexTensor<3>,
    h0: Option<ComplexTensor<2>>,
    scan: ScanImpl,
) -> (ComplexTensor<3>, ComplexTensor<2>) {
    let [batch, time, width] = b.re.dims();
    if time == 0 {
        let zero = || Tensor::zeros([batch, width], &b.re.device());
        let last = h0.unwrap_or_else(|| ComplexTensor {
            re: zero(),
            im: zero(),
        });
        return (b, last);
    }
    let h0 = h0.map(|h| reshape(h, [batch, 1, width]));
    let h = match scan {
        ScanImpl::Sequential => complex_sequential(a, b, h0),
        ScanImpl::LogDepth => complex_log_depth(a, b, h0),
        ScanImpl::Chunked { chunk } => complex_chunked(a, b, h0, chunk.max(1)),
    };
    let last = reshape(at(&h, time - 1, time), [batch, width]);
    (h, last)
}

fn reshape<const A: usize, const B: usize>(
    x: ComplexTensor<A>,
    shape: [usize; B],
) -> ComplexTensor<B> {
    ComplexTensor {
        re: x.re.reshape(shape),
        im: x.im.reshape(shape),
    }
}

fn at(x: &ComplexTensor<3>, start: usize, end: usize) -> ComplexTensor<3> {
    x.clone().map(|t| t.slice(s![.., start..end, ..]))
}

fn cat(parts: Vec<ComplexTensor<3>>) -> ComplexTensor<3> {
    let (re, im): (Vec<_>, Vec<_>) = parts.into_iter().map(|c| (c.re, c.im)).unzip();
    ComplexTensor {
        re: Tensor::cat(re, 1),
        im: Tensor::cat(im, 1),
    }
}

fn complex_sequential(
    a: ComplexTensor<3>,
    b: ComplexTensor<3>,
    h0: Option<ComplexTensor<3>>,
) -> ComplexTensor<3> {
    let time = b.re.dims()[1];
    let mut h = h0;
    let mut out = Vec::with_capacity(time);
    for t in 0..time {
        let next = match h {
            Some(prev) => at(&a, t, t + 1).times(prev).plus(at(&b, t, t + 1)),
            None => at(&b, t, t + 1),
        };
        out.push(next.clone());
        h = Some(next);
    }
    cat(out)
}

fn complex_log_depth(
    a: ComplexTensor<3>,
    b: ComplexTensor<3>,
    h0: Option<ComplexTensor<3>>,
) -> ComplexTensor<3> {
    let time = b.re.dims()[1];
    let mut h = match h0 {
        Some(h0) => {
            let first = at(&a, 0, 1).times(h0).plus(at(&b, 0, 1));
            if time == 1 {
                first
            } else {
                cat(vec![first, at(&b, 1, time)])
            }
        }
        None => b,
    };
    let mut a = a;
    let mut k = 1;
    while k < time {
        let h_shift = ComplexTensor {
            re: shifted(&h.re, k, 0.0),
            im: shifted(&h.im, k, 0.0),
        };
        let a_shift = ComplexTensor {
            re: shifted(&a.re, k, 1.0),
            im: shifted(&a.im, k, 0.0),
        };
        h = h.plus(a.clone().times(h_shift));
        a = a.times(a_shift);
        k *= 2;
    }
    h
}

fn complex_chunked(
    a: ComplexTensor<3>,
    b: ComplexTensor<3>,
    h0: Option<ComplexTensor<3>>,
    chunk: usize,
) -> ComplexTensor<3> {
    let [batch, time, width] = b.re.dims();
    let device = b.re.device();
    let mut state = h0;
    let mut out = Vec::with_capacity(time.div_ceil(chunk));
    for start in (0..time).step_by(chunk) {
        let end = (start + chunk).min(time);
        let c = end - start;
        let ac = at(&a, start, end);
        // log a = ln|a| + i arg a; L = cumsum over the chunk.
        let log_abs = (ac.re.clone().powi_scalar(2) + ac.im.clone().powi_scalar(2))
            .log()
            .mul_scalar(0.5);
        let angle = ac.im.atan2(ac.re);
        let (cum_re, cum_im) = (log_abs.cumsum(1), angle.cumsum(1));
        let pairwise = |x: &Tensor<3>| {
            x.clone().reshape([batch, c, 1, width]) - x.clone().reshape([batch, 1, c, width])
        };
        let above = Tensor::<2, Bool>::tril_mask([c, c], 0, &device)
            .reshape([1, c, c, 1])
            .expand([batch, c, c, width]);
        // D[t, s] = exp(L_t − L_s) for s ≤ t, zero above the diagonal.
        let magnitude = pairwise(&cum_re)
            .mask_fill(above.clone(), f32::NEG_INFINITY)
            .exp();
        let phase = pairwise(&cum_im).mask_fill(above, 0.0);
        let decay = ComplexTensor {
            re: magnitude.clone() * phase.clone().cos(),
            im: magnitude * phase.sin(),
        };
        let bc = reshape(at(&b, start, end), [batch, 1, c, width]);
        let summed = decay.times(bc).map(|x| x.sum_dim(2));
        let mut h = reshape(summed, [batch, c, width]);
        if let Some(prev) = state {
            let carry = ComplexTensor {
                re: cum_re.clone().exp() * cum_im.clone().cos(),
                im: cum_re.exp() * cum_im.sin(),
            };
            h = h.plus(carry.times(prev));
        }
        state = Some(at(&h, c - 1, c));
        out.push(h);
    }
    cat(out)
}
