//! Generated clips whose label is in the motion, not in any frame.

use burn::prelude::*;
use kiln_core::train::SeededRng;

/// A bright square moving across a dark frame, one pixel per frame, wrapping around the edges.
/// The class is the direction (right, left, down, up), so any single frame is at chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovingSquares {
    /// Frame side in pixels.
    pub side: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Square side in pixels.
    pub square: usize,
}

/// Steps of the four directions, `(down, right)`.
const DIRECTIONS: [(isize, isize); 4] = [(0, 1), (0, -1), (1, 0), (-1, 0)];

impl MovingSquares {
    /// Classes: one per direction.
    pub const CLASSES: usize = 4;

    /// `n` clips `[n, T, side, side, 1]` in [0, 1] with their labels; classes in turn, start
    /// positions drawn from `seed`.
    pub fn clips(&self, n: usize, seed: u64, device: &Device) -> (Tensor<5>, Tensor<1, Int>) {
        let mut rng = SeededRng::new(seed);
        let (side, frames) = (self.side, self.frames);
        let mut pixels = vec![0.0f32; n * frames * side * side];
        let mut labels = Vec::with_capacity(n);
        for clip in 0..n {
            let class = clip % Self::CLASSES;
            let (dy, dx) = DIRECTIONS[class];
            let (y0, x0) = (rng.below(side) as isize, rng.below(side) as isize);
            for t in 0..frames {
                let (y, x) = (y0 + dy * t as isize, x0 + dx * t as isize);
                for i in 0..self.square as isize {
                    for j in 0..self.square as isize {
                        let row = (y + i).rem_euclid(side as isize) as usize;
                        let col = (x + j).rem_euclid(side as isize) as usize;
                        pixels[((clip * frames + t) * side + row) * side + col] = 1.0;
                    }
                }
            }
            labels.push(class as i64);
        }
        (
            Tensor::from_data(TensorData::new(pixels, [n, frames, side, side, 1]), device),
            Tensor::from_data(TensorData::new(labels, [n]), device),
        )
    }
}
