//! `cargo xtask reproduce trecvit`: moving digits against a frame-only ViT and joint attention,
//! streaming cost, the mini-ablations and the full-size count
//! ([`kiln_trecvit::experiment::TRecViTReproduction`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_trecvit::experiment::TRecViTReproduction>(&ALLOC)
}
