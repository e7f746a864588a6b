//! A small seeded random number generator for host-side randomness (shuffles, splits, noise).
//!
//! Kiln owns this generator instead of using `rand`'s `StdRng`, whose algorithm may change
//! between releases: with our own, a seed means the same data order on every machine and every
//! version. It is xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
//! Tensor-side randomness (weight initialisation, `Tensor::random`) is seeded separately with
//! [`crate::train::seed_everything`].

/// xoshiro256** seeded from a `u64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededRng {
    state: [u64; 4],
}

/// One step of SplitMix64, used for seeding and for deriving sub-seeds.
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed for a named sub-stream of `seed` (e.g. `"data-order"`), so that components seeded from
/// one base seed do not share random numbers.
pub fn derive_seed(seed: u64, stream: &str) -> u64 {
    // Each byte goes through a full SplitMix64 mix, so names that differ anywhere (numbered
    // streams such as `epoch-12` and `epoch-21` above all) give unrelated seeds.
    let mut x = splitmix64(&mut seed.clone());
    for byte in stream.bytes() {
        let mut state = x ^ u64::from(byte);
        x = splitmix64(&mut state);
    }
    x
}

impl SeededRng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        Self {
            state: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32).
    ///
    /// # Panics
    /// If `n == 0`.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "SeededRng::below(0)");
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A standard normal sample (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // in (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Gamma(`shape`, 1) sample (Marsaglia and Tsang; for `shape < 1` the boost
    /// `G(a) = G(a + 1) · U^(1/a)`).
    ///
    /// # Panics
    /// If `shape` is not positive.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        assert!(shape > 0.0, "Gamma shape must be positive, got {shape}");
        if shape < 1.0 {
            let u = 1.0 - self.next_f64();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.next_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// A draw from the symmetric Dirichlet with concentration `alpha` over `n` outcomes.
    pub fn dirichlet(&mut self, n: usize, alpha: f64) -> Vec<f64> {
        let draws: Vec<f64> = (0..n).map(|_| self.gamma(alpha)).collect();
        let total: f64 = draws.iter().sum();
        draws.into_iter().map(|g| g / total).collect()
    }

    /// An index drawn with probability proportional to `weights`.
    pub fn categorical(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.next_f64() * total;
        for (i, w) in weights.iter().enumerate() {
            u -= w;
            if u < 0.0 {
                return i;
            }
        }
        weights.len() - 1
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// `0..n` shuffled and cut into batches of `batch` (the last one may be shorter): one epoch.
    pub fn batches(&mut self, n: usize, batch: usize) -> Vec<Vec<usize>> {
        self.permutation(n)
            .chunks(batch.max(1))
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// `0..n` in a random order.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.shuffle(&mut order);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_streams_get_distinct_seeds() {
        // Until 2026-11-27 the byte loop discarded the mix, and 1,200 names `train-0` …
        // `train-1199` shared 128 seeds.
        for prefix in ["train-", "epoch-", ""] {
            let seeds: std::collections::HashSet<u64> = (0..20_000)
                .map(|i| derive_seed(7, &format!("{prefix}{i}")))
                .collect();
            assert_eq!(seeds.len(), 20_000, "collisions among `{prefix}N`");
        }
        let bases: std::collections::HashSet<u64> =
            (0..1000).map(|seed| derive_seed(seed, "e1")).collect();
        assert_eq!(bases.len(), 1000);
        assert_ne!(derive_seed(0, "ab"), derive_seed(0, "ba"));
    }

    #[test]
    fn same_seed_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = SeededRng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = SeededRng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = SeededRng::new(8);
        assert_eq!(a, b);
        assert_ne!(a[0], r.next_u64());
        assert_ne!(derive_seed(7, "data"), derive_seed(7, "init"));
    }

    #[test]
    fn splitmix_matches_its_reference_output() {
        // First output of SplitMix64 seeded with 0 (Vigna's reference implementation).
        let mut x = 0;
        assert_eq!(splitmix64(&mut x), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn uniform_and_normal_moments_are_right() {
        let mut r = SeededRng::new(1);
        let n = 200_000;
        let u: Vec<f64> = (0..n).map(|_| r.next_f64()).collect();
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        let z: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let zm = z.iter().sum::<f64>() / n as f64;
        let zv = z.iter().map(|v| (v - zm) * (v - zm)).sum::<f64>() / n as f64;
        assert!(zm.abs() < 0.01 && (zv - 1.0).abs() < 0.01, "{zm} {zv}");
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[r.below(3)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn gamma_and_dirichlet_have_their_moments() {
        let mut r = SeededRng::new(4);
        for shape in [0.3, 1.0, 2.5] {
            let n = 100_000;
            let x: Vec<f64> = (0..n).map(|_| r.gamma(shape)).collect();
            let mean = x.iter().sum::<f64>() / n as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            // Gamma(a, 1): mean a, variance a.
            assert!(
                (mean - shape).abs() < 0.02 * shape.max(1.0),
                "shape {shape}: mean {mean}"
            );
            assert!(
                (var - shape).abs() < 0.05 * shape.max(1.0),
                "shape {shape}: var {var}"
            );
        }
        let p = r.dirichlet(5, 0.1);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p.iter().all(|&v| v >= 0.0));
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[r.categorical(&[1.0, 2.0, 7.0])] += 1;
        }
        assert!(
            (counts[2] as f64 / 30_000.0 - 0.7).abs() < 0.01,
            "{counts:?}"
        );
    }

    #[test]
    fn permutation_is_a_permutation() {
        let batches = SeededRng::new(3).batches(10, 4);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        assert_eq!(batches.concat(), SeededRng::new(3).permutation(10));
        let mut p = SeededRng::new(3).permutation(100);
        assert_ne!(p, (0..100).collect::<Vec<_>>());
        p.sort_unstable();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
