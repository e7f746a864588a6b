//! What we measure in a trained model (§2–§4): sink rates, the first-token score of
//! every head, validation loss, the value norm of the sink, the active-dormant signature of the
//! back-copy head, and how far a one-token change spreads.
//!
//! Every measurement runs on held-out *texts* of `T + 1` tokens, fed in one of two ways
//! ([`Feed`]): with a leading ⟨bos⟩ or as text only. Both feeds are `T` tokens long and are
//! scored on the same targets (text tokens `1..T`), so a loss difference is the effect of ⟨bos⟩
//! alone.

use burn::prelude::*;
use kiln_core::host_values;
use kiln_core::nn::Decoder;
use kiln_core::train::masked_cross_entropy;
use serde::{Deserialize, Serialize};

use crate::first_token_scores;

/// How a held-out text is fed to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Feed {
    /// `⟨bos⟩ x₀ … x_{T−2}`.
    WithBos,
    /// `x₀ … x_{T−1}`.
    TextOnly,
}

impl Feed {
    /// `⟨bos⟩ + text` or `text only`, as in the paper's Table 2.
    pub fn label(self) -> &'static str {
        match self {
            Feed::WithBos => "⟨bos⟩ + text",
            Feed::TextOnly => "text only",
        }
    }

    /// Sequence index of text position `i`.
    pub fn index_of_text(self, i: usize) -> usize {
        match self {
            Feed::WithBos => i + 1,
            Feed::TextOnly => i,
        }
    }
}

/// Inputs, targets and loss mask for `texts` (each `T + 1` long) fed as `feed`.
fn encode(texts: &[Vec<u32>], feed: Feed, bos: u32) -> (Vec<Vec<u32>>, Vec<Vec<u32>>, Vec<f32>) {
    let (mut inputs, mut targets, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for text in texts {
        let t = text.len() - 1;
        match feed {
            Feed::WithBos => {
                inputs.push(
                    std::iter::once(bos)
                        .chain(text[..t - 1].iter().copied())
                        .collect(),
                );
                targets.push(text[..t].to_vec());
                mask.extend((0..t).map(|i| if i == 0 { 0.0 } else { 1.0 }));
            }
            Feed::TextOnly => {
                inputs.push(text[..t].to_vec());
                targets.push(text[1..=t].to_vec());
                mask.extend((0..t).map(|i| if i + 1 == t { 0.0 } else { 1.0 }));
            }
        }
    }
    (inputs, targets, mask)
}

fn ids(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    let (b, t) = (rows.len(), rows.first().map_or(0, Vec::len));
    let flat: Vec<i64> = rows.iter().flatten().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(flat, [b, t]), device)
}

/// Prompts per forward pass.
const CHUNK: usize = 16;

/// Sink statistics of one model on one feed of the held-out texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkProbe {
    /// `(ε, sink rate in %)` on the first position.
    pub rates: Vec<(f64, f64)>,
    /// Sink rate per layer at the first `ε`.
    pub rate_by_layer: Vec<f64>,
    /// Mean first-token score `α` of each head, `[layer][head]`.
    pub alpha: Vec<Vec<f64>>,
    /// Mean next-token loss (nats) on text tokens `1..T`.
    pub loss: f64,
    /// Per layer: mean value-vector norm at position 0 over the mean at later positions (the
    /// paper's no-op mechanism predicts a ratio well below 1 for a ⟨bos⟩ sink).
    pub value_norm_ratio: Vec<f64>,
}

impl SinkProbe {
    /// The sink rate at `eps`, if it was measured.
    pub fn rate(&self, eps: f64) -> Option<f64> {
        self.rates
            .iter()
            .find(|(e, _)| (e - eps).abs() < 1e-12)
            .map(|r| r.1)
    }
}

/// Measures `model` on `texts` (each `T + 1` tokens) fed as `feed`, at thresholds `epsilons`
/// (at least one).
///
/// # Panics
/// If `texts` or `epsilons` is empty, or the texts differ in length or are shorter than 3.
pub fn probe(
    model: &Decoder,
    texts: &[Vec<u32>],
    feed: Feed,
    bos: u32,
    epsilons: &[f64],
    device: &Device,
) -> SinkProbe {
    assert!(!texts.is_empty() && !epsilons.is_empty());
    assert!(
        texts
            .iter()
            .all(|t| t.len() == texts[0].len() && t.len() >= 3)
    );
    let layers = model.blocks.len();
    let heads = model.blocks.first().map_or(0, |b| b.attn.n_heads);
    let mut above = vec![0usize; epsilons.len()];
    let mut above_by_layer = vec![0usize; layers];
    let mut alpha = vec![vec![0.0; heads]; layers];
    let (mut loss, mut norm_first, mut norm_rest) = (0.0, vec![0.0; layers], vec![0.0; layers]);
    for chunk in texts.chunks(CHUNK) {
        let (inputs, targets, mask) = encode(chunk, feed, bos);
        let (b, t) = (inputs.len(), inputs[0].len());
        let tokens = ids(&inputs, device);
        let out = model.forward(tokens.clone(), None, None, true);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, t]), device);
        loss += masked_cross_entropy(out.logits, ids(&targets, device), mask).into_scalar::<f64>()
            * b as f64;
        // α[b][l][h]: thresholded per prompt, then counted (§2, after Gu et al. 2025).
        let scores = host_values(first_token_scores(&out.attention));
        for (i, &score) in scores.iter().enumerate() {
            let (l, h) = ((i / heads) % layers, i % heads);
            let score = f64::from(score);
            alpha[l][h] += score;
            for (e, &eps) in epsilons.iter().enumerate() {
                above[e] += usize::from(score > eps);
            }
            above_by_layer[l] += usize::from(score > epsilons[0]);
        }
        // Value norms: the input of block l is the embedding or block l − 1's output.
        let mut input = model.embedding.forward(tokens);
        for (l, block) in model.blocks.iter().enumerate() {
            let values = block.attn.value.forward(block.attn_norm.forward(input));
            let norms = host_values(values.square().sum_dim(2).sqrt().reshape([b, t]));
            for row in norms.chunks_exact(t) {
                norm_first[l] += f64::from(row[0]);
                norm_rest[l] +=
                    row[1..].iter().map(|&v| f64::from(v)).sum::<f64>() / (t - 1) as f64;
            }
            input = out.hidden[l].clone();
        }
    }
    let n = texts.len() as f64;
    let per_head = n * (layers * heads) as f64;
    SinkProbe {
        rates: epsilons
            .iter()
            .zip(&above)
            .map(|(&eps, &count)| (eps, 100.0 * count as f64 / per_head))
            .collect(),
        rate_by_layer: above_by_layer
            .iter()
            .map(|&c| 100.0 * c as f64 / (n * heads as f64))
            .collect(),
        alpha: alpha
            .into_iter()
            .map(|row| row.into_iter().map(|a| a / n).collect())
            .collect(),
        loss: loss / n,
        value_norm_ratio: norm_first
            .iter()
            .zip(&norm_rest)
            .map(|(f, r)| f / r.max(1e-12))
            .collect(),
    }
}

/// The active-dormant signature (§3.2): the head that copies at triggers should rest on
/// the first token everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActiveDormant {
    /// Layer of the back-copy head.
    pub layer: usize,
    /// Its index in the layer.
    pub head: usize,
    /// Its mean attention from a trigger to the token just before it (what it copies).
    pub copy_attention: f64,
    /// Its mean attention to position 0 from trigger queries.
    pub alpha_trigger: f64,
    /// Its mean attention to position 0 from all other queries.
    pub alpha_other: f64,
    /// How many trigger queries were seen.
    pub trigger_queries: usize,
}

/// Finds the back-copy head (the largest mean attention from trigger queries to the preceding
/// token) on `texts` fed with ⟨bos⟩, and compares its first-token attention at trigger and at
/// other queries. Queries at sequence positions 0 and 1 are skipped (they have no preceding
/// text token). `None` if no trigger occurs.
pub fn active_dormant(
    model: &Decoder,
    texts: &[Vec<u32>],
    bos: u32,
    is_trigger: impl Fn(u32) -> bool,
    device: &Device,
) -> Option<ActiveDormant> {
    let layers = model.blocks.len();
    let heads = model.blocks.first().map_or(0, |b| b.attn.n_heads);
    // Per (layer, head): copy attention and α summed over trigger queries, α over others.
    let mut copy = vec![0.0; layers * heads];
    let mut alpha_trigger = vec![0.0; layers * heads];
    let mut alpha_other = vec![0.0; layers * heads];
    let (mut triggers, mut others) = (0usize, 0usize);
    for chunk in texts.chunks(CHUNK) {
        let (inputs, _, _) = encode(chunk, Feed::WithBos, bos);
        let t = inputs[0].len();
        let out = model.forward(ids(&inputs, device), None, None, true);
        let maps: Vec<Vec<f32>> = out.attention.into_iter().map(host_values).collect();
        for (b, row) in inputs.iter().enumerate() {
            for q in 2..t {
                let trigger = is_trigger(row[q]);
                if trigger {
                    triggers += 1;
                } else {
                    others += 1;
                }
                for (l, map) in maps.iter().enumerate() {
                    for h in 0..heads {
                        let base = ((b * heads + h) * t + q) * t;
                        let i = l * heads + h;
                        let to_first = f64::from(map[base]);
                        if trigger {
                            copy[i] += f64::from(map[base + q - 1]);
                            alpha_trigger[i] += to_first;
                        } else {
                            alpha_other[i] += to_first;
                        }
                    }
                }
            }
        }
    }
    if triggers == 0 {
        return None;
    }
    let best = (0..layers * heads).max_by(|&a, &b| copy[a].total_cmp(&copy[b]))?;
    Some(ActiveDormant {
        layer: best / heads,
        head: best % heads,
        copy_attention: copy[best] / triggers as f64,
        alpha_trigger: alpha_trigger[best] / triggers as f64,
        alpha_other: alpha_other[best] / others.max(1) as f64,
        trigger_queries: triggers,
    })
}

/// How far a one-token change spreads (Fig. 2, our normalisation):
/// `d_j^l = ‖h_j^l(x) − h_j^l(x′)‖₂ / ‖h_j^l(x)‖₂` for text positions `j > p`, where `h^l` is
/// the residual stream after block `l`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerturbationReport {
    /// Mean of `d_j^l` over positions and prompts, per layer.
    pub per_layer: Vec<f64>,
    /// Mean over prompts, `[layer][j − p − 1]`.
    pub grid: Vec<Vec<f64>>,
}

impl PerturbationReport {
    /// The mean over layers of [`Self::per_layer`].
    pub fn mean(&self) -> f64 {
        self.per_layer.iter().sum::<f64>() / self.per_layer.len().max(1) as f64
    }
}

/// Feeds every text and a copy with text position `position` replaced by `substitute(token)`,
/// and measures the relative change of the residual stream at text positions after it that
/// both feeds hold (`position + 1 ..= T − 2`).
///
/// # Panics
/// If `texts` is empty or `position + 2 ≥ T`.
pub fn perturbation_propagation(
    model: &Decoder,
    texts: &[Vec<u32>],
    feed: Feed,
    bos: u32,
    position: usize,
    substitute: impl Fn(u32) -> u32,
    device: &Device,
) -> PerturbationReport {
    assert!(!texts.is_empty());
    let t = texts[0].len() - 1;
    assert!(
        position + 2 < t,
        "perturbed position {position} leaves no later position"
    );
    let later: Vec<usize> = (position + 1..=t - 2).collect();
    let layers = model.blocks.len();
    let mut grid = vec![vec![0.0; later.len()]; layers];
    for chunk in texts.chunks(CHUNK) {
        let changed: Vec<Vec<u32>> = chunk
            .iter()
            .map(|text| {
                let mut text = text.clone();
                text[position] = substitute(text[position]);
                text
            })
            .collect();
        let (inputs, _, _) = encode(chunk, feed, bos);
        let (inputs_changed, _, _) = encode(&changed, feed, bos);
        let b = inputs.len();
        let a = model.forward(ids(&inputs, device), None, None, true).hidden;
        let c = model
            .forward(ids(&inputs_changed, device), None, None, true)
            .hidden;
        for (l, (a, c)) in a.into_iter().zip(c).enumerate() {
            let norm = |x: Tensor<3>| x.square().sum_dim(2).sqrt().reshape([b, t]);
            let relative = host_values(norm(a.clone() - c) / norm(a).clamp_min(1e-12));
            for row in relative.chunks_exact(t) {
                for (k, &j) in later.iter().enumerate() {
                    grid[l][k] += f64::from(row[feed.index_of_text(j)]);
                }
            }
        }
    }
    let n = texts.len() as f64;
    for row in &mut grid {
        for v in row.iter_mut() {
            *v /= n;
        }
    }
    PerturbationReport {
        per_layer: grid
            .iter()
            .map(|row| row.iter().sum::<f64>() / row.len() as f64)
            .collect(),
        grid,
    }
}

/// The sink probes of a model on the evaluation prompts, fed both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedProbes {
    /// `⟨bos⟩ + text`.
    pub with_bos: SinkProbe,
    /// `text only`.
    pub text_only: SinkProbe,
}

impl FeedProbes {
    /// The probe of one feed.
    pub fn get(&self, feed: Feed) -> &SinkProbe {
        match feed {
            Feed::WithBos => &self.with_bos,
            Feed::TextOnly => &self.text_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::nn::{DecoderConfig, RopeLayout};

    fn tiny_model(device: &Device) -> Decoder {
        DecoderConfig {
            vocab_size: 12,
            d_model: 8,
            n_layers: 2,
            n_heads: 2,
            n_kv_heads: 2,
            ffn_hidden: 16,
            max_len: 8,
            rope_base: 10_000.0,
            rope_layout: RopeLayout::Halves,
            norm_eps: 1e-5,
            tied_embeddings: true,
        }
        .init(device)
    }

    #[test]
    fn both_feeds_score_the_same_text_targets() {
        let texts = vec![vec![1, 2, 3, 4, 5]];
        let (inputs, targets, mask) = encode(&texts, Feed::WithBos, 9);
        assert_eq!(inputs, vec![vec![9, 1, 2, 3]]);
        assert_eq!(targets, vec![vec![1, 2, 3, 4]]);
        assert_eq!(mask, vec![0.0, 1.0, 1.0, 1.0]);
        let (inputs, targets, mask) = encode(&texts, Feed::TextOnly, 9);
        assert_eq!(inputs, vec![vec![1, 2, 3, 4]]);
        assert_eq!(targets, vec![vec![2, 3, 4, 5]]);
        assert_eq!(mask, vec![1.0, 1.0, 1.0, 0.0]);
        // Scored targets: 2, 3, 4 in both feeds.
    }

    #[test]
    fn probe_counts_heads_against_thresholds_and_identity_swaps_spread_nothing() {
        let _rng = kiln_core::train::device_rng_lock();
        let device = Device::default();
        device.seed(5);
        let model = tiny_model(&device);
        let texts: Vec<Vec<u32>> = (0..5)
            .map(|i| (0..9).map(|j| (i + j) % 9).collect())
            .collect();
        let p = probe(&model, &texts, Feed::TextOnly, 9, &[0.0, 0.999], &device);
        // Every first-token score is positive and below 1 for a random model.
        assert_eq!(p.rates, vec![(0.0, 100.0), (0.999, 0.0)]);
        assert_eq!((p.alpha.len(), p.alpha[0].len()), (2, 2));
        assert!(
            p.alpha
                .iter()
                .flatten()
                .all(|&a| a > 1.0 / 8.0 - 0.1 && a < 1.0)
        );
        assert!(p.loss > 0.0 && p.loss.is_finite());
        let same = perturbation_propagation(&model, &texts, Feed::WithBos, 9, 2, |t| t, &device);
        assert!(same.per_layer.iter().all(|&d| d == 0.0), "{same:?}");
        let swapped = perturbation_propagation(
            &model,
            &texts,
            Feed::WithBos,
            9,
            2,
            |t| (t + 1) % 9,
            &device,
        );
        assert_eq!(swapped.grid[0].len(), 8 - 2 - 2, "text positions 3..=6");
        assert!(swapped.per_layer.iter().all(|&d| d > 0.0), "{swapped:?}");
    }
}
