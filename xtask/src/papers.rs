//! The ten papers Kiln implements, and what each reproduction shows.

use std::path::Path;

/// One paper crate.
pub struct Paper {
    /// Folder under `crates/` and the name used on the command line.
    pub name: &'static str,
    /// The paper's title.
    pub title: &'static str,
    /// What `cargo xtask reproduce <name>` shows.
    pub reproduces: &'static str,
    /// Registry datasets the reproduction reads (fetched before it runs).
    pub datasets: &'static [&'static str],
}

/// The papers, in the order we build them.
pub const PAPERS: &[Paper] = &[
    Paper {
        name: "noprop",
        title: "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
        reproduces: "NoProp-DT vs backprop (Table 1), eta = 0 ablation, memory per step, CT, FM",
        datasets: &["mnist", "fashion-mnist"],
    },
    Paper {
        name: "tam-optim",
        title: "Torque-Aware Momentum",
        reproduces: "TAM/AdaTAM vs SGD/Adam: training, label-flip stream, LR sweep, stability",
        datasets: &["mnist", "fashion-mnist"],
    },
    Paper {
        name: "trecvit",
        title: "TRecViT: A Recurrent Video Transformer",
        reproduces: "moving-digits video task vs ViViT and frame-only ViT; streaming cost vs T",
        datasets: &["mnist"],
    },
    Paper {
        name: "ou-reset",
        title: "Non-Stationary Learning of Neural Networks with Automatic Soft Parameter Reset",
        reproduces: "soft OU resets vs hard resets and plain SGD on non-stationary streams",
        datasets: &["mnist", "fashion-mnist"],
    },
    Paper {
        name: "attn-sinks",
        title: "Why do LLMs attend to the first token?",
        reproduces: "sink rate vs context length, BOS/packing grid, perturbation propagation",
        datasets: &["brown", "smollm2"],
    },
    Paper {
        name: "fact-learning",
        title: "How do language models learn facts? Dynamics, curricula and hallucinations",
        reproduces: "synthetic biographies: three phases, plateau vs N, imbalance, hallucination, fine-tuning",
        datasets: &[],
    },
    Paper {
        name: "icl-generalization",
        title: "On the generalization of language models from in-context learning and finetuning",
        reproduces: "reversal and syllogism generalisation: ICL vs finetuning vs augmented finetuning",
        datasets: &[],
    },
    Paper {
        name: "greedy-agents",
        title: "LLMs are Greedy Agents: Effects of RL Fine-tuning on Decision-Making Abilities",
        reproduces: "greediness, frequency bias and knowing-doing gap on bandits; RL fine-tuning",
        datasets: &["smollm2", "movielens-100k"],
    },
    Paper {
        name: "hadamard",
        title: "Hadamard product in deep learning: Introduction, Advances and Challenges",
        reproduces: "multiplicative interactions at linear cost: polynomial nets, gating, fusion",
        datasets: &["mnist"],
    },
    Paper {
        name: "frame-agency",
        title: "Agency Is Frame-Dependent",
        reproduces: "an operational agency measure that changes with the chosen frame",
        datasets: &[],
    },
];

/// Looks a paper up by name; the error lists the names that exist.
pub fn find(name: &str) -> anyhow::Result<&'static Paper> {
    PAPERS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = PAPERS.iter().map(|p| p.name).collect();
        anyhow::anyhow!("no paper named `{name}`; papers: {}", names.join(", "))
    })
}

impl Paper {
    /// Whether the crate and its `reproduce` binary exist in this checkout.
    pub fn is_implemented(&self, root: &Path) -> bool {
        root.join("crates")
            .join(self.name)
            .join("src/bin/reproduce.rs")
            .is_file()
    }

    /// The Cargo package name.
    pub fn package(&self) -> String {
        format!("kiln-{}", self.name)
    }
}
