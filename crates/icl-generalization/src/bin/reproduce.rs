//! `cargo xtask reproduce icl-generalization`: pre-train a small decoder until it reasons in
//! context, then compare in-context learning, fine-tuning and augmented fine-tuning
//! ([`kiln_icl_generalization::experiment::IclGeneralization`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_icl_generalization::experiment::IclGeneralization>(&ALLOC)
}
