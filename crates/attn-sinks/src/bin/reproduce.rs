//! `cargo xtask reproduce attn-sinks`: the context sweep, the packing grid, perturbation spread
//! and the SmolLM2 analysis ([`kiln_attn_sinks::experiment::AttnSinks`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_attn_sinks::experiment::AttnSinks>(&ALLOC)
}
