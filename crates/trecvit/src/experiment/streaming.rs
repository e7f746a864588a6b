//! The cost of streaming: time and peak memory to take in one new frame after `T` frames, for
//! each model (the paper's claim is that TRecViT's stays constant in `T`).

use burn::prelude::*;
use kiln_core::train::{PeakAlloc, measure_time};

use super::AnyModel;
use super::config::ExperimentConfig;
use crate::StreamState;

/// Median seconds, and peak bytes allocated, to take in frame `frames + 1` of one video when
/// `frames` came before: one `step` for TRecViT; for the attention models, whatever they must
/// recompute (the frame model encodes the new frame alone; joint attention runs again over the
/// whole video). The memory is measured on one more, untimed call.
pub fn frame_cost(
    model: &AnyModel,
    config: &ExperimentConfig,
    frames: usize,
    device: &Device,
    alloc: &PeakAlloc,
) -> (f64, Option<usize>) {
    let [h, w] = config.model.image_size;
    let video = Tensor::<5>::zeros([1, frames + 1, h, w, 1], device);
    let frame = video.clone().slice(s![.., frames..frames + 1]);
    let repeats = config.latency_repeats;
    // `measure_time` makes one untimed call first: the first run of a shape pays for
    // allocations. Reading the output back waits for the device.
    match model {
        AnyModel::TRecViT(m) => {
            let mut state = StreamState::default();
            for t in 0..frames {
                let f = video.clone().slice(s![.., t..t + 1]).squeeze_dim::<4>(1);
                state = m.step(f, state).1;
            }
            let f = frame.squeeze_dim::<4>(1);
            let new_frame = || m.step(f.clone(), state.clone()).0.into_data();
            (
                measure_time(repeats, || {
                    new_frame();
                }),
                alloc.measure(new_frame).1,
            )
        }
        AnyModel::FrameVit(m) => {
            let new_frame = || m.forward(frame.clone()).into_data();
            (
                measure_time(repeats, || {
                    new_frame();
                }),
                alloc.measure(new_frame).1,
            )
        }
        AnyModel::JointAttention(m) => {
            let whole_video = || m.forward(video.clone()).into_data();
            (
                measure_time(repeats, || {
                    whole_video();
                }),
                alloc.measure(whole_video).1,
            )
        }
    }
}
