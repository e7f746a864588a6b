//! Generated clips whose label is in the motion, not in any frame: a sprite (a square, or a
//! real MNIST digit) moves across a dark frame in one of four directions, wrapping around the
//! edges. Every position is equally likely in every frame, so a single frame is at chance.
//!
//! Two labellings: [`Labels::Direction`] (4 classes) and [`Labels::Sense`] (2 classes: right or
//! down, against left or up). The frames of a clip taken as an unordered set still show the
//! axis of motion, so a model that ignores their order can tell the direction half the time;
//! only the sense needs the order, and on it such a model is at chance.

use burn::prelude::*;
use kiln_core::data::ImageDataset;
use kiln_core::train::SeededRng;

/// A grey image pasted into frames, values in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Sprite {
    /// Side in pixels.
    pub side: usize,
    /// Row-major pixels.
    pub pixels: Vec<f32>,
}

impl Sprite {
    /// A white square.
    pub fn square(side: usize) -> Self {
        Self {
            side,
            pixels: vec![1.0; side * side],
        }
    }

    /// Image `index` of a one-channel dataset (MNIST), shrunk by averaging `factor × factor`
    /// blocks (28 → 14 with 2).
    ///
    /// # Panics
    /// If the images are not square one-channel images divisible by `factor`.
    pub fn from_image(data: &ImageDataset, index: usize, factor: usize) -> Self {
        let shape = data.shape();
        assert!(
            shape.channels == 1
                && shape.height == shape.width
                && shape.height.is_multiple_of(factor),
            "sprites come from square one-channel images"
        );
        let (big, side) = (shape.height, shape.height / factor);
        let image = data.image(index);
        let mut pixels = vec![0.0f32; side * side];
        for (k, p) in pixels.iter_mut().enumerate() {
            let (r, c) = (k / side, k % side);
            let mut sum = 0.0;
            for i in 0..factor {
                for j in 0..factor {
                    sum += f32::from(image[(r * factor + i) * big + c * factor + j]);
                }
            }
            *p = sum / (255.0 * (factor * factor) as f32);
        }
        Self { side, pixels }
    }
}

/// Steps of the four directions, `(down, right)`: right, left, down, up.
const DIRECTIONS: [(isize, isize); 4] = [(0, 1), (0, -1), (1, 0), (-1, 0)];

/// What the label of a clip is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Labels {
    /// The direction: right, left, down, up.
    Direction,
    /// The sense along the clip's (random) axis: 0 for right or down, 1 for left or up.
    Sense,
}

impl Labels {
    /// Number of classes.
    pub fn classes(self) -> usize {
        match self {
            Labels::Direction => 4,
            Labels::Sense => 2,
        }
    }
}

/// How clips are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Motion {
    /// Frame side in pixels.
    pub side: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Slowest and fastest speed, pixels per frame (drawn uniformly per clip).
    pub speed: (usize, usize),
    /// What the label is.
    pub labels: Labels,
}

impl Motion {
    /// `n` clips `[n, T, side, side, 1]` with their labels. Directions come in turn; the
    /// sprite, start position and speed of each clip are drawn from `seed`.
    ///
    /// # Panics
    /// If `sprites` is empty.
    pub fn clips(
        &self,
        sprites: &[Sprite],
        n: usize,
        seed: u64,
        device: &Device,
    ) -> (Tensor<5>, Tensor<1, Int>) {
        assert!(!sprites.is_empty(), "clips need at least one sprite");
        let mut rng = SeededRng::new(seed);
        let (side, frames) = (self.side, self.frames);
        let mut pixels = vec![0.0f32; n * frames * side * side];
        let mut labels = Vec::with_capacity(n);
        for clip in 0..n {
            let direction = clip % DIRECTIONS.len();
            let sprite = &sprites[rng.below(sprites.len())];
            let speed = self.speed.0 + rng.below(self.speed.1 - self.speed.0 + 1);
            let (dy, dx) = DIRECTIONS[direction];
            let (y0, x0) = (rng.below(side) as isize, rng.below(side) as isize);
            for t in 0..frames {
                let step = (t * speed) as isize;
                let frame = &mut pixels[(clip * frames + t) * side * side..][..side * side];
                paste(frame, side, sprite, y0 + dy * step, x0 + dx * step);
            }
            labels.push(match self.labels {
                Labels::Direction => direction as i64,
                // right (0) and down (2) against left (1) and up (3)
                Labels::Sense => (direction % 2) as i64,
            });
        }
        (
            Tensor::from_data(TensorData::new(pixels, [n, frames, side, side, 1]), device),
            Tensor::from_data(TensorData::new(labels, [n]), device),
        )
    }
}

/// Draws `sprite` with its corner at `(y, x)` (wrapping around), keeping the brighter pixel.
fn paste(frame: &mut [f32], side: usize, sprite: &Sprite, y: isize, x: isize) {
    for i in 0..sprite.side {
        for j in 0..sprite.side {
            let row = (y + i as isize).rem_euclid(side as isize) as usize;
            let col = (x + j as isize).rem_euclid(side as isize) as usize;
            let p = &mut frame[row * side + col];
            *p = p.max(sprite.pixels[i * sprite.side + j]);
        }
    }
}
