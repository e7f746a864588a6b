//! Writes the paper's Table 4 settings as RON files under `configs/noprop/presets/`, one per
//! variant, dataset and embedding. `tests/presets.rs` checks the files still match the code.
//!
//! Run: `cargo run -p kiln-noprop --example write_presets`

fn main() -> anyhow::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/noprop/presets");
    std::fs::create_dir_all(&dir)?;
    for (name, config) in kiln_noprop::config::table4_presets() {
        let text = kiln_noprop::config::preset_text(&config)?;
        std::fs::write(dir.join(format!("{name}.ron")), text)?;
        println!("wrote {name}.ron");
    }
    Ok(())
}
