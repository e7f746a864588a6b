//! Speed of the language-model engine on SmolLM2-135M (`cargo xtask bench lm`), optionally
//! beside llama.cpp's own benchmarks on the same file, run right after ours.
//!
//! ```sh
//! cargo xtask data fetch smollm2
//! cargo xtask bench lm [--llama-bench DIR]
//! ```
//!
//! Options: `--model PATH` (another Llama GGUF file), `--llama-bench DIR` (a folder holding
//! llama.cpp's `llama-bench` and `llama-batched-bench`), `--threads N` (for llama.cpp; ours
//! uses rayon's pool, `RAYON_NUM_THREADS`), `--repeats N` (best of N, default 3; best of at most
//! 2 for the fine-tuning steps), `--skip-finetune` (inference only).
//!
//! After the inference rows it times one LoRA and one full fine-tuning step of the Burn
//! decoder at 8 × 128 tokens, with peak memory (counted by the global allocator).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use kiln_core::data::text::Tokenizer;
use kiln_core::gguf::{BpeTokenizer, GgufFile};
use kiln_core::lm::{LmEngine, Positions, Sampler, SeqCache, Step};
use kiln_core::train::{PeakAlloc, SeededRng};

mod finetune;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

/// Prompt tokens per sequence before the timed decode steps, and the steps timed.
const DECODE_PROMPT: usize = 16;
const DECODE_STEPS: usize = 64;

struct Options {
    model: PathBuf,
    llama_bench: Option<PathBuf>,
    threads: usize,
    repeats: usize,
    skip_finetune: bool,
}

/// One benchmark: ours and, when measured, llama.cpp's, in tokens per second.
struct Row {
    name: String,
    ours: f64,
    llama: Option<f64>,
}

fn main() -> std::process::ExitCode {
    kiln_core::cli::exit_code(run())
}

fn run() -> anyhow::Result<()> {
    let options = parse_args()?;
    let started = Instant::now();
    let file = GgufFile::read(&options.model)?;
    let tokenizer = BpeTokenizer::from_gguf(&file)?;
    let engine = LmEngine::from_gguf(&file, 512)?;
    eprintln!(
        "loaded {} in {:.2} s: {:.0} MB of weights in memory, {} rayon threads",
        options.model.display(),
        started.elapsed().as_secs_f64(),
        engine.weight_bytes() as f64 / 1e6,
        rayon::current_num_threads()
    );
    let text = "The history of the city begins with a small village on the river, where \
                farmers and traders met each week to sell grain, cloth and tools. ";
    let tokens: Vec<u32> = tokenizer.encode(&text.repeat(40));
    let best = |f: &mut dyn FnMut() -> f64| {
        (0..options.repeats.max(1))
            .map(|_| f())
            .fold(0.0f64, f64::max)
    };
    let mut rows = Vec::new();
    for n in [64, 256] {
        let tps = best(&mut || prefill(&engine, &tokens[..n]));
        rows.push(row(format!("prefill, {n}-token prompt"), tps));
    }
    for batch in [1, 8, 16] {
        let tps = best(&mut || decode(&engine, &tokens, batch));
        let name = if batch == 1 {
            "decode, batch 1".to_string()
        } else {
            format!("decode, batch {batch} (aggregate)")
        };
        rows.push(row(name, tps));
    }
    let tps = best(&mut || scoring(&engine, &tokens));
    rows.push(row(
        "scoring, 32 continuations × 8 tokens of a 64-token prompt".into(),
        tps,
    ));
    if let Some(dir) = &options.llama_bench {
        llama_cpp(dir, &options, &mut rows)?;
    }
    let steps = if options.skip_finetune {
        Vec::new()
    } else {
        finetune::step_rows(&file, &tokens, options.repeats.min(2), &ALLOC)?
    };
    print_table(&rows);
    finetune::print_steps(&steps);
    Ok(())
}

fn row(name: String, ours: f64) -> Row {
    eprintln!("{name}: {ours:.1} tokens/s");
    Row {
        name,
        ours,
        llama: None,
    }
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        model: PathBuf::new(),
        llama_bench: None,
        threads: 2,
        repeats: 3,
        skip_finetune: false,
    };
    let mut model = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--llama-bench" => options.llama_bench = Some(PathBuf::from(value("--llama-bench")?)),
            "--threads" => options.threads = value("--threads")?.parse()?,
            "--repeats" => options.repeats = value("--repeats")?.parse()?,
            "--skip-finetune" => options.skip_finetune = true,
            other => bail!(
                "unknown option {other}; usage: lm_bench [--model PATH] [--llama-bench DIR] [--threads N] [--repeats N] [--skip-finetune]"
            ),
        }
    }
    options.model = match model {
        Some(path) => path,
        None => kiln_core::data::dataset_dir("smollm2")?.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    };
    Ok(options)
}

/// Prompt tokens per second of one batched prefill pass (logits of the last token only, as
/// llama.cpp computes them).
fn prefill(engine: &LmEngine, prompt: &[u32]) -> f64 {
    let mut cache = SeqCache::new();
    let started = Instant::now();
    let mut step = [Step {
        cache: &mut cache,
        tokens: prompt,
    }];
    engine
        .forward(&mut step, Positions::Last)
        .expect("the prompt fits the engine");
    prompt.len() as f64 / started.elapsed().as_secs_f64()
}

/// Generated tokens per second, all sequences together, over the greedy decode steps after a
/// (untimed) prefill of `batch` different prompts.
fn decode(engine: &LmEngine, tokens: &[u32], batch: usize) -> f64 {
    let mut caches = vec![SeqCache::new(); batch];
    let prompts: Vec<&[u32]> = (0..batch)
        .map(|b| &tokens[b * 3..b * 3 + DECODE_PROMPT])
        .collect();
    let mut next = run_step(engine, &mut caches, &prompts);
    let started = Instant::now();
    for _ in 0..DECODE_STEPS {
        let inputs: Vec<[u32; 1]> = next.iter().map(|&t| [t]).collect();
        let inputs: Vec<&[u32]> = inputs.iter().map(|t| &t[..]).collect();
        next = run_step(engine, &mut caches, &inputs);
    }
    (batch * DECODE_STEPS) as f64 / started.elapsed().as_secs_f64()
}

fn run_step(engine: &LmEngine, caches: &mut [SeqCache], inputs: &[&[u32]]) -> Vec<u32> {
    let mut steps: Vec<Step<'_>> = caches
        .iter_mut()
        .zip(inputs)
        .map(|(cache, tokens)| Step { cache, tokens })
        .collect();
    let logits = engine
        .forward(&mut steps, Positions::Last)
        .expect("the decode fits the engine");
    let mut rng = SeededRng::new(0);
    logits
        .iter()
        .map(|l| Sampler::greedy().choose(l, &mut rng))
        .collect()
}

/// Continuation tokens per second of prefix-shared scoring (prompt included in the time).
fn scoring(engine: &LmEngine, tokens: &[u32]) -> f64 {
    let prompt = &tokens[..64];
    let continuations: Vec<Vec<u32>> = (0..32)
        .map(|i| tokens[64 + i..64 + i + 8].to_vec())
        .collect();
    let started = Instant::now();
    engine
        .score(prompt, &continuations)
        .expect("the continuations fit the engine");
    (32 * 8) as f64 / started.elapsed().as_secs_f64()
}

/// Runs llama.cpp's `llama-bench` (prefill 64 and 256, decode batch 1) and
/// `llama-batched-bench` (decode at batch 8 and 16) on the same file and fills in `rows`.
fn llama_cpp(dir: &Path, options: &Options, rows: &mut [Row]) -> anyhow::Result<()> {
    let threads = options.threads.to_string();
    let model = options.model.to_string_lossy().to_string();
    let bench = output(
        &dir.join("llama-bench"),
        &[
            "-m", &model, "-t", &threads, "-p", "64,256", "-n", "64", "-o", "csv",
        ],
    )?;
    // CSV with a header row; `n_prompt`, `n_gen` and `avg_ts` name the columns we need.
    let mut lines = bench.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(unquote).collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(n_prompt), Some(n_gen), Some(avg)) =
        (column("n_prompt"), column("n_gen"), column("avg_ts"))
    else {
        bail!("llama-bench printed no CSV header with n_prompt, n_gen and avg_ts:\n{bench}");
    };
    for line in lines {
        let cells: Vec<&str> = line.split(',').map(unquote).collect();
        let get = |i: usize| cells.get(i).copied().unwrap_or("");
        let speed: f64 = get(avg).parse().unwrap_or(f64::NAN);
        let name = match (get(n_prompt), get(n_gen)) {
            ("64", "0") => "prefill, 64-token prompt",
            ("256", "0") => "prefill, 256-token prompt",
            ("0", "64") => "decode, batch 1",
            _ => continue,
        };
        set(rows, name, speed);
    }
    let batched = output(
        &dir.join("llama-batched-bench"),
        &[
            "-m",
            &model,
            "-t",
            &threads,
            "-c",
            "2048",
            "-npp",
            &DECODE_PROMPT.to_string(),
            "-ntg",
            &DECODE_STEPS.to_string(),
            "-npl",
            "8,16",
        ],
    )?;
    // Markdown rows `| PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | … |`.
    for line in batched.lines().filter(|l| l.trim_start().starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let (Some(b), Some(speed)) = (cells.get(3), cells.get(8))
            && let (Ok(b), Ok(speed)) = (b.parse::<usize>(), speed.parse::<f64>())
        {
            set(rows, &format!("decode, batch {b} (aggregate)"), speed);
        }
    }
    Ok(())
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

fn set(rows: &mut [Row], name: &str, speed: f64) {
    if let Some(row) = rows.iter_mut().find(|r| r.name == name) {
        row.llama = Some(speed);
    }
}

fn output(program: &Path, args: &[&str]) -> anyhow::Result<String> {
    eprintln!("running {} {}", program.display(), args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("could not run {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn print_table(rows: &[Row]) {
    println!("| benchmark | kiln tokens/s | llama.cpp tokens/s | ratio |");
    println!("|---|---|---|---|");
    for r in rows {
        let (llama, ratio) = match r.llama {
            Some(l) => (format!("{l:.1}"), format!("{:.2}×", r.ours / l)),
            None => ("–".into(), "–".into()),
        };
        println!("| {} | {:.1} | {llama} | {ratio} |", r.name, r.ours);
    }
}
