//! `classify-trecvit`: run a released-format TRecViT checkpoint on a video saved as `.npy`.
//!
//! ```text
//! cargo run --release -p kiln-trecvit --bin classify-trecvit -- \
//!     --checkpoint trecvit_B_k400.npz --video clip.npy
//! ```
//!
//! The video is `[T, H, W, C]` (or a batch `[B, T, H, W, C]`), `uint8` (divided by 255, as the
//! released demo does) or float in [0, 1]. The model's config is read from the checkpoint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::*;
use clap::Parser;
use kiln_core::npz::{NpyArray, read_npy, write_npy};
use kiln_trecvit::{StreamState, TRecViT, flax_config, load_flax_npz};

/// Classify a video with a TRecViT checkpoint in the released `.npz` format.
#[derive(Parser, Debug)]
#[command(name = "classify-trecvit")]
struct Args {
    /// The checkpoint (`.npz` with flax key paths, e.g. the released trecvit_B_k400.npz).
    #[arg(long)]
    checkpoint: PathBuf,
    /// The video, `.npy` of shape [T, H, W, C] or [B, T, H, W, C]; uint8 or float in [0, 1].
    #[arg(long)]
    video: PathBuf,
    /// Frames per clip: longer videos are cut into clips whose logits are averaged (32 for the
    /// released K400 checkpoint).
    #[arg(long, default_value_t = 32)]
    frames_per_clip: usize,
    /// How many classes to list per video.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Also run the video frame by frame with a constant-size state, and report the time per
    /// frame.
    #[arg(long)]
    stream: bool,
    /// Write the videos' logits `[B, classes]` (the mean over clips) to this `.npy` file, e.g. to
    /// compare with the JAX model's.
    #[arg(long)]
    save_logits: Option<PathBuf>,
    /// Backend (flex, wgpu, cuda); defaults to $KILN_BACKEND, then flex.
    #[arg(long)]
    backend: Option<String>,
}

fn main() -> ExitCode {
    kiln_core::cli::exit_code(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let (backend, device) = kiln_core::select_device(args.backend.as_deref())?;
    let (video, dims, note) = read_video(&args.video, &device)?;
    let [batch, frames, height, width, channels] = dims;
    let started = Instant::now();
    let config = flax_config(&args.checkpoint, [height, width])?;
    if config.in_channels != channels {
        bail!(
            "the checkpoint takes {} colour channels, the video has {channels}",
            config.in_channels
        );
    }
    let model = load_flax_npz(&args.checkpoint, &config, &device)?;
    let Some(head) = config.head else {
        bail!(
            "{} has no classification head (no decoder/cls_head): it is an encoder only",
            args.checkpoint.display()
        );
    };
    println!(
        "checkpoint: {} — {} layers, width {}, LRU width {}, {} classes, {} parameters; loaded \
         in {:.1} s on {backend}",
        args.checkpoint.display(),
        config.depth,
        config.width,
        config.lru_width,
        head.num_classes,
        model.num_params(),
        started.elapsed().as_secs_f64()
    );
    let clips = (frames / args.frames_per_clip.max(1)).max(1);
    println!(
        "video: {}, {batch} × {frames} frames of {height}×{width}×{channels} ({note}), \
         {clips} clip(s) of {} frames",
        args.video.display(),
        frames / clips
    );
    let logits = classify(&args, &model, video.clone(), head.num_classes)?;
    if args.stream {
        stream(&model, video, (clips == 1).then_some(logits))?;
    }
    Ok(())
}

/// The video at `path` as `[B, T, H, W, C]` in [0, 1], its dimensions, and its element type
/// (with the scaling applied) for printing.
fn read_video(path: &Path, device: &Device) -> anyhow::Result<(Tensor<5>, [usize; 5], String)> {
    let video = read_npy(path)?;
    let element_type = video.element_type();
    let scale = if element_type == "uint8" {
        1.0 / 255.0
    } else {
        1.0
    };
    let shape = video.shape().to_vec();
    let dims = match shape[..] {
        [t, h, w, c] => [1, t, h, w, c],
        [b, t, h, w, c] => [b, t, h, w, c],
        _ => bail!(
            "{} has shape {shape:?}; a video is [T, H, W, C] or [B, T, H, W, C]",
            path.display()
        ),
    };
    let largest = video.values().iter().fold(0.0f32, |m, v| m.max(*v));
    if scale == 1.0 && largest > 1.5 {
        eprintln!(
            "warning: {} holds {element_type} values up to {largest}; the released model \
             expects values in [0, 1] (divide by 255, or save the frames as uint8)",
            path.display()
        );
    }
    let note = format!("{element_type}{}", if scale == 1.0 { "" } else { " ÷ 255" });
    let video = video
        .reshape(dims.to_vec())
        .and_then(|v| v.into_tensor::<5>(device))
        .context("reshaping the video")?
        .mul_scalar(scale);
    Ok((video, dims, note))
}

/// Classifies the videos clip by clip, prints the top classes of each (and saves the logits if
/// asked); returns the logits `[B, classes]`.
fn classify(
    args: &Args,
    model: &TRecViT,
    video: Tensor<5>,
    classes: usize,
) -> anyhow::Result<Tensor<2>> {
    let started = Instant::now();
    let out = model.classify_clips(video, args.frames_per_clip)?;
    let logits = out.logits().context("the model has no head")?;
    let probabilities = out.probabilities().context("the model has no head")?;
    let probabilities = kiln_core::host_values(probabilities);
    println!("forward: {:.2} s", started.elapsed().as_secs_f64());
    if let Some(path) = &args.save_logits {
        write_npy(path, &NpyArray::from_tensor(logits.clone()))?;
        println!("logits written to {}", path.display());
    }
    for (b, row) in probabilities.chunks(classes).enumerate() {
        let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
        println!("video {b}: top {}", args.top.min(ranked.len()));
        for (class, p) in ranked.iter().take(args.top) {
            println!("  class {class:>4}  p = {p:.4}");
        }
    }
    Ok(logits)
}

/// Runs the videos frame by frame with a constant-size state and prints the time per frame,
/// and how far the result is from `whole` (the whole-clip logits of a one-clip video).
fn stream(model: &TRecViT, video: Tensor<5>, whole: Option<Tensor<2>>) -> anyhow::Result<()> {
    let [batch, frames, ..] = video.dims();
    let mut state = StreamState::default();
    let started = Instant::now();
    for t in 0..frames {
        let frame = video.clone().slice(s![.., t..t + 1]).squeeze_dim::<4>(1);
        let (_tokens, next) = model.step(frame, state);
        state = next;
    }
    // Reading the logits back waits for the device to finish.
    let streamed = model
        .stream_logits(&state)
        .context("the model has no head")?;
    let difference = match whole {
        Some(logits) => format!(
            "; largest difference from the whole-clip logits {:.2e}",
            kiln_core::max_abs_diff(streamed, logits)
        ),
        None => {
            kiln_core::host_values(streamed);
            String::new()
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "streaming: {frames} frames in {seconds:.2} s, {:.1} ms per frame ({:.1} frames/s \
         at batch {batch}); state {} values{difference}",
        1e3 * seconds / frames as f64,
        (frames * batch) as f64 / seconds,
        state.len()
    );
    Ok(())
}
