//! `cargo xtask reproduce fact-learning`: the three phases, plateau against N, the α sweep,
//! hallucination and fine-tuning ([`kiln_fact_learning::experiment::FactLearning`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_fact_learning::experiment::FactLearning>(&ALLOC)
}
