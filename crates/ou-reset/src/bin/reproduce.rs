//! `cargo xtask reproduce ou-reset`: the random-label streams, perfect soft resets, the
//! non-stationarity sweep, the toy and a switching-reward DQN ([`kiln_ou_reset::experiment::OuReset`]).

#[global_allocator]
static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();

fn main() -> std::process::ExitCode {
    kiln_core::cli::main::<kiln_ou_reset::experiment::OuReset>(&ALLOC)
}
