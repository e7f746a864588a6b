//! The reader on GGUF files written here, one per supported type, with known values; and on
//! malformed, truncated and unsupported files.

use half::f16;

use super::*;

/// A metadata value as written: type id and bytes.
fn meta_bytes(value: &MetaValue) -> (u32, Vec<u8>) {
    match value {
        MetaValue::U32(v) => (4, v.to_le_bytes().to_vec()),
        MetaValue::F32(v) => (6, v.to_le_bytes().to_vec()),
        MetaValue::Str(s) => (8, string_bytes(s)),
        MetaValue::U64(v) => (10, v.to_le_bytes().to_vec()),
        MetaValue::Array(items) => {
            let inner: Vec<(u32, Vec<u8>)> = items.iter().map(meta_bytes).collect();
            let mut out = inner.first().map_or(8u32, |i| i.0).to_le_bytes().to_vec();
            out.extend((items.len() as u64).to_le_bytes());
            for (_, bytes) in inner {
                out.extend(bytes);
            }
            (9, out)
        }
        other => panic!("writer does not need {other:?}"),
    }
}

fn string_bytes(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

/// A GGUF v3 file with `meta` and `tensors` (name, dims fastest-first, type, raw bytes).
fn write(meta: &[(&str, MetaValue)], tensors: &[(&str, Vec<u64>, GgmlType, Vec<u8>)]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((meta.len() as u64).to_le_bytes());
    for (key, value) in meta {
        out.extend(string_bytes(key));
        let (kind, bytes) = meta_bytes(value);
        out.extend(kind.to_le_bytes());
        out.extend(bytes);
    }
    let mut offset = 0u64;
    let mut data = Vec::new();
    for (name, dims, kind, bytes) in tensors {
        out.extend(string_bytes(name));
        out.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(kind.id().to_le_bytes());
        out.extend(offset.to_le_bytes());
        data.extend(bytes);
        let padded = (data.len() as u64).div_ceil(32) * 32;
        data.resize(padded as usize, 0);
        offset = padded;
    }
    out.resize((out.len() as u64).div_ceil(32) as usize * 32, 0);
    out.extend(data);
    out
}

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_bits().to_le_bytes())
        .collect()
}

/// One Q8_0 block holding `d · (i − 16)` for i in 0..32.
fn q8_block(d: f32) -> Vec<u8> {
    let mut block = f16_bytes(&[d]);
    block.extend((0..32).map(|i: i32| (i - 16) as i8 as u8));
    block
}

/// One Q4_1 block holding `d · (i % 16) + m`.
fn q4_block(d: f32, m: f32) -> Vec<u8> {
    let mut block = f16_bytes(&[d, m]);
    block.extend((0..16u8).map(|j| j | (j << 4)));
    block
}

fn sample() -> Vec<u8> {
    let f32_values: Vec<u8> = (0..6)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    write(
        &[
            ("general.architecture", MetaValue::Str("llama".into())),
            ("llama.block_count", MetaValue::U32(2)),
            ("llama.rope.freq_base", MetaValue::F32(100_000.0)),
            (
                "tokenizer.ggml.tokens",
                MetaValue::Array(vec![MetaValue::Str("a".into()), MetaValue::Str("b".into())]),
            ),
        ],
        &[
            ("norm", vec![3, 2], GgmlType::F32, f32_values),
            (
                "half",
                vec![4],
                GgmlType::F16,
                f16_bytes(&[1.0, -2.0, 0.25, 3.5]),
            ),
            (
                "emb",
                vec![32, 2],
                GgmlType::Q8_0,
                [q8_block(0.5), q8_block(2.0)].concat(),
            ),
            ("proj", vec![32], GgmlType::Q4_1, q4_block(0.25, -1.0)),
        ],
    )
}

#[test]
fn every_supported_type_reads_back_its_known_values() {
    let file = GgufFile::parse(sample()).unwrap();
    assert_eq!(file.version, 3);
    assert_eq!(file.meta_str("general.architecture").unwrap(), "llama");
    assert_eq!(file.meta_u64("llama.block_count").unwrap(), 2);
    assert_eq!(file.meta_f64("llama.rope.freq_base").unwrap(), 100_000.0);
    assert_eq!(
        file.meta("tokenizer.ggml.tokens")
            .and_then(MetaValue::as_array)
            .map(<[_]>::len),
        Some(2)
    );
    assert_eq!(file.parameter_count(), 6 + 4 + 64 + 32);

    let (norm, shape) = file.tensor_f32("norm").unwrap();
    assert_eq!(
        shape,
        vec![2, 3],
        "row-major shape is the reverse of the stored dims"
    );
    assert_eq!(norm, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
    assert_eq!(
        file.tensor_f32("half").unwrap().0,
        vec![1.0, -2.0, 0.25, 3.5]
    );
    let (emb, shape) = file.tensor_f32("emb").unwrap();
    assert_eq!(shape, vec![2, 32]);
    assert_eq!(
        (emb[0], emb[17], emb[32], emb[63]),
        (-8.0, 0.5, -32.0, 30.0)
    );
    let (proj, _) = file.tensor_f32("proj").unwrap();
    assert_eq!(
        (proj[0], proj[5], proj[21], proj[31]),
        (-1.0, 0.25, 0.25, 2.75)
    );
}

#[test]
fn malformed_files_are_named_errors() {
    let good = sample();
    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert!(matches!(
        GgufFile::parse(bad_magic),
        Err(GgufError::BadMagic { .. })
    ));
    let mut future = good.clone();
    future[4] = 9;
    assert!(matches!(
        GgufFile::parse(future),
        Err(GgufError::UnsupportedVersion(9))
    ));
    // Cut anywhere: in the header, the metadata, the tensor table or the data (the last
    // tensor's 20 bytes end 12 bytes of padding before the end of the file).
    for cut in [3, 10, 40, 120, good.len() - 13] {
        let err = GgufFile::parse(good[..cut].to_vec()).unwrap_err();
        assert!(
            matches!(err, GgufError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    // A count far beyond the file is refused before anything is allocated.
    let mut huge = good.clone();
    huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        GgufFile::parse(huge),
        Err(GgufError::Truncated { .. })
    ));
    // Dimensions whose product overflows are refused as larger than the file, not a panic.
    let absurd = write(
        &[],
        &[("x", vec![u64::MAX / 2, 4], GgmlType::F32, vec![0; 4])],
    );
    assert!(matches!(
        GgufFile::parse(absurd),
        Err(GgufError::Truncated { .. })
    ));
    let message = GgufFile::parse(good)
        .unwrap()
        .tensor_f32("missing")
        .unwrap_err()
        .to_string();
    assert!(message.contains("missing"), "{message}");
}

#[test]
fn unsupported_types_are_read_but_refused_on_use() {
    // Type 12 is Q4_K; 144 bytes is one of its 256-weight blocks.
    let bytes = write(&[], &[("k", vec![256], GgmlType::Other(12), vec![0; 144])]);
    let file = GgufFile::parse(bytes).unwrap();
    let message = file.tensor_f32("k").unwrap_err().to_string();
    assert!(
        message.contains("Other(12)") && message.contains("Q4_1"),
        "{message}"
    );
    assert!(
        GgufFile::read(Path::new("/nonexistent/model.gguf"))
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/model.gguf")
    );
}

mod llama {
    use burn::prelude::*;

    use super::*;
    use crate::gguf::llama::load_llama;
    use crate::host_values;
    use crate::nn::{Decoder, DecoderConfig, RopeLayout};

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// `[in, out]` (Burn) to `[out, in]` (file) row-major values.
    fn transposed(t: Tensor<2>) -> Vec<f32> {
        host_values(t.transpose())
    }

    /// llama.cpp's permutation of `W_Q` / `W_K` rows (`[heads · d_h, in]`) from Hugging Face's
    /// half-split RoPE pairs to adjacent pairs: row `h·d_h + 2j + s` takes row `h·d_h + s·d_h/2 + j`.
    fn permute_rows(rows: &[f32], heads: usize, d_in: usize) -> Vec<f32> {
        let d_h = rows.len() / d_in / heads;
        let mut out = vec![0.0; rows.len()];
        for h in 0..heads {
            for j in 0..d_h / 2 {
                for s in 0..2 {
                    let to = h * d_h + 2 * j + s;
                    let from = h * d_h + s * d_h / 2 + j;
                    out[to * d_in..(to + 1) * d_in]
                        .copy_from_slice(&rows[from * d_in..(from + 1) * d_in]);
                }
            }
        }
        out
    }

    /// The tensors of `model` (Hugging Face layout) as llama.cpp names and lays them out: F32,
    /// Q and K rows permuted.
    fn llama_tensors(
        model: &Decoder,
        c: &DecoderConfig,
    ) -> Vec<(String, Vec<u64>, GgmlType, Vec<u8>)> {
        let mut tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)> = Vec::new();
        let mut push = |name: String, rows: usize, cols: usize, values: Vec<f32>| {
            let dims = if rows == 1 {
                vec![cols as u64]
            } else {
                vec![cols as u64, rows as u64]
            };
            tensors.push((name, dims, GgmlType::F32, f32_bytes(&values)));
        };
        let d = c.d_model;
        let kv = c.n_kv_heads * d / c.n_heads;
        push(
            "token_embd.weight".into(),
            c.vocab_size,
            d,
            host_values(model.embedding.weight.val()),
        );
        for (i, b) in model.blocks.iter().enumerate() {
            let n = |p: &str| format!("blk.{i}.{p}.weight");
            push(n("attn_norm"), 1, d, host_values(b.attn_norm.gamma.val()));
            let q = transposed(b.attn.query.weight.val());
            push(n("attn_q"), d, d, permute_rows(&q, c.n_heads, d));
            let k = transposed(b.attn.key.weight.val());
            push(n("attn_k"), kv, d, permute_rows(&k, c.n_kv_heads, d));
            push(n("attn_v"), kv, d, transposed(b.attn.value.weight.val()));
            push(
                n("attn_output"),
                d,
                d,
                transposed(b.attn.output.weight.val()),
            );
            push(n("ffn_norm"), 1, d, host_values(b.mlp_norm.gamma.val()));
            push(
                n("ffn_gate"),
                c.ffn_hidden,
                d,
                transposed(b.mlp.gate.weight.val()),
            );
            push(
                n("ffn_up"),
                c.ffn_hidden,
                d,
                transposed(b.mlp.up.weight.val()),
            );
            push(
                n("ffn_down"),
                d,
                c.ffn_hidden,
                transposed(b.mlp.down.weight.val()),
            );
        }
        push(
            "output_norm.weight".into(),
            1,
            d,
            host_values(model.norm.gamma.val()),
        );
        tensors
    }

    /// Writes `model` (Hugging Face layout) as llama.cpp would: F32 tensors, permuted Q and K.
    fn to_gguf(model: &Decoder, c: &DecoderConfig) -> Vec<u8> {
        let tensors = llama_tensors(model, c);
        let d = c.d_model;
        let size = |v: usize| MetaValue::U32(v as u32);
        let tensors: Vec<(&str, Vec<u64>, GgmlType, Vec<u8>)> = tensors
            .iter()
            .map(|(n, dims, k, b)| (n.as_str(), dims.clone(), *k, b.clone()))
            .collect();
        write(
            &[
                ("general.architecture", MetaValue::Str("llama".into())),
                ("llama.block_count", size(c.n_layers)),
                ("llama.embedding_length", size(d)),
                ("llama.feed_forward_length", size(c.ffn_hidden)),
                ("llama.attention.head_count", size(c.n_heads)),
                ("llama.attention.head_count_kv", size(c.n_kv_heads)),
                ("llama.context_length", size(64)),
                ("llama.rope.freq_base", MetaValue::F32(c.rope_base as f32)),
                (
                    "llama.attention.layer_norm_rms_epsilon",
                    MetaValue::F32(c.norm_eps as f32),
                ),
            ],
            &tensors,
        )
    }

    #[test]
    fn a_model_written_as_llama_cpp_does_loads_back_to_the_same_function() {
        let _rng = crate::train::device_rng_lock();
        let device = Device::default();
        device.seed(11);
        let config = DecoderConfig {
            vocab_size: 40,
            d_model: 32,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            ffn_hidden: 48,
            max_len: 16,
            rope_base: 10_000.0,
            rope_layout: RopeLayout::Halves,
            norm_eps: 1e-5,
            tied_embeddings: true,
        };
        let mut original = config.init(&device);
        // Make the norm gains non-trivial so that a swapped or missing gain would show.
        for block in &mut original.blocks {
            block.attn_norm.gamma = burn::module::Param::from_tensor(Tensor::<1>::random(
                [32],
                burn::tensor::Distribution::Uniform(0.5, 1.5),
                &device,
            ));
        }
        let file = GgufFile::parse(to_gguf(&original, &config)).unwrap();
        let (loaded, loaded_config) = load_llama(&file, 16, &device).unwrap();
        assert_eq!(loaded_config.rope_layout, RopeLayout::Adjacent);
        assert_eq!(
            (loaded_config.n_kv_heads, loaded_config.ffn_hidden),
            (2, 48)
        );
        assert!(loaded_config.tied_embeddings);
        let ids: Vec<i64> = (0..12).map(|i| (i * 7 + 1) % 40).collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 12]), &device);
        let a = host_values(original.forward(tokens.clone(), None, None, false).logits);
        let b = host_values(loaded.forward(tokens, None, None, false).logits);
        let diff = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 1e-5, "logits differ by {diff}");
        // The inference engine reads the same file to the same function.
        let engine = crate::lm::LmEngine::from_gguf(&file, 16).unwrap();
        let ids: Vec<u32> = (0..12).map(|i| (i * 7 + 1) % 40).collect();
        let mut cache = crate::lm::SeqCache::new();
        let mut step = [crate::lm::Step {
            cache: &mut cache,
            tokens: &ids,
        }];
        let c = engine
            .forward(&mut step, crate::lm::Positions::All)
            .unwrap();
        let diff = a
            .iter()
            .zip(&c[0])
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 1e-4, "engine logits differ by {diff}");
    }

    #[test]
    fn other_architectures_are_refused_by_name() {
        let bytes = write(
            &[("general.architecture", MetaValue::Str("gemma3".into()))],
            &[],
        );
        let file = GgufFile::parse(bytes).unwrap();
        let message = load_llama(&file, 8, &Device::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("gemma3"), "{message}");
    }
}

mod bpe;
