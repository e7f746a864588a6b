//! `cargo xtask reproduce tam-optim`: the toy quadratic, E1–E3 and their report
//! ([`kiln_tam_optim::experiment::TamOptim`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_tam_optim::experiment::TamOptim>(&ALLOC)
}
