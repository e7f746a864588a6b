//! Seconds per training step of a decoder on biographies, for sizing the reproduction:
//! `cargo run --release --example bio_step_timing -p kiln-fact-learning --
//! <layers> <d_model> <batch> [people] [steps] [lr × 1e4] [threads]`.
//!
//! With `threads` > 1, that many independent runs train at once, one per thread (the
//! reproduction's `workers`), and the time is per step of each.

use burn::prelude::*;
use kiln_core::nn::{DecoderConfig, RopeLayout};
use kiln_core::train::{LmTrainer, SeededRng, WarmupCosine, materialize};
use kiln_fact_learning::{BioBatch, BioConfig, IndividualDist, Population, TemplateSet, World};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (layers, d, batch) = (arg(0, 4), arg(1, 128), arg(2, 32));
    let (n, steps, threads) = (arg(3, 256), arg(4, 30), arg(6, 1));
    let peak = arg(5, 10) as f64 * 1e-4;
    let world = World::new(BioConfig::CPU)?;
    let population = Population::generate(&world, n, 1)?;
    let sampler = IndividualDist::Uniform.sampler(n, batch)?;
    let device = Device::default().autodiff();
    let config = DecoderConfig {
        vocab_size: world.vocab_size(),
        d_model: d,
        n_layers: layers,
        n_heads: 4,
        n_kv_heads: 4,
        ffn_hidden: 4 * d,
        max_len: 128,
        rope_base: 10_000.0,
        rope_layout: RopeLayout::Halves,
        norm_eps: 1e-5,
        tied_embeddings: false,
    };
    let model = config.init(&device);
    materialize(&model);
    let schedule = WarmupCosine {
        peak,
        min: peak / 10.0,
        warmup: 0,
        total: steps,
    };
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (world, population, sampler, device) = (&world, &population, &sampler, &device);
            let mut model = model.clone();
            let mut trainer = LmTrainer::new(schedule, 0.1);
            let mut rng = SeededRng::new(2 + t as u64);
            scope.spawn(move || {
                for step in 0..steps {
                    let who = (0..batch).map(|_| sampler.draw(step, &mut rng)).collect();
                    let b = BioBatch::of_people(
                        world,
                        population,
                        who,
                        TemplateSet::Train,
                        &mut rng,
                        device,
                    );
                    let (next, loss) = trainer.step(model, &b.lm);
                    model = next;
                    if t == 0 && step % 25 == 0 {
                        println!("step {step}: loss {loss:.3}");
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{layers}x{d} batch {batch}, {threads} thread(s): {:.3} s/step",
        secs / steps as f64
    );
    Ok(())
}
