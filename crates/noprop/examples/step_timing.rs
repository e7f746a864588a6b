//! Times one training step of NoProp-DT and of the backprop baseline, as the reproduction's
//! report does, without running the experiment: for comparing backends and machines.
//!
//! ```sh
//! cargo run --release -p kiln-noprop --example step_timing -- configs/noprop/cpu.ron flex
//! ```

use kiln_core::cli::ReproductionConfig;
use kiln_noprop::experiment::cost::step_timing;
use kiln_noprop::experiment::{ExperimentConfig, PreparedData};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let config_path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: step_timing <config.ron> [backend]"))?;
    let config = ExperimentConfig::load(std::path::Path::new(&config_path))?;
    let (backend, device) = kiln_core::select_device(args.next().as_deref())?;
    let (train, test) = config.dataset.load()?;
    let data = PreparedData::new(config.dataset.name(), train, test, &config)?;
    let timing = step_timing(&config, &data, &device);
    println!(
        "{config_path} on {backend}: batch {}, NoProp-DT block step {:.1} ms, backprop step ({} blocks) {:.1} ms",
        timing.batch_size, timing.noprop_ms, config.noprop.t_blocks, timing.backprop_ms
    );
    Ok(())
}
