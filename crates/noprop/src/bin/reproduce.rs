//! `cargo xtask reproduce noprop`: Table 1 at our scale, the η = 0 ablation, CT and FM, memory
//! and time per step ([`kiln_noprop::experiment::NoProp`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_noprop::experiment::NoProp>(&ALLOC)
}
