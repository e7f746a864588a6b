//! A study world as JSON Lines, to run against another model: one object per line, each
//! document and item as text (tokens joined by spaces, markers written `<q>` and so on).
//!
//! ```text
//! {"kind":"train","world":0,"text":"did you know that femp are more dangerous than glon . …"}
//! {"kind":"context","world":0,"text":"…"}
//! {"kind":"test","world":0,"split":"reversal","prompt":"<bos> … <q>","choices":["glon are less …","…"],"answer":0}
//! {"kind":"oracle","world":0,"text":"…"}
//! ```
//!
//! Test items carry their in-context prompt; for the no-context conditions drop everything
//! between `<bos>` and `<q>`.

use serde_json::json;

use crate::eval::prompt;
use crate::study::StudySet;
use crate::vocab::Vocab;

/// `study` as JSON Lines (module docs), each line ending in a newline.
pub fn to_jsonl(study: &StudySet, v: &Vocab) -> String {
    let mut lines = Vec::new();
    let text = |doc: &crate::corpus::Doc| v.decode(&doc.tokens());
    for (doc, world) in study.train_docs.iter().zip(&study.train_world) {
        lines.push(json!({"kind": "train", "world": world, "text": text(doc)}));
    }
    for (world, doc) in study.contexts.iter().enumerate() {
        lines.push(json!({"kind": "context", "world": world, "text": text(doc)}));
    }
    for item in &study.tests {
        let choices: Vec<String> = item.choices.iter().map(|c| v.decode(c)).collect();
        lines.push(json!({
            "kind": "test",
            "world": item.world,
            "split": item.split.name(),
            "prompt": v.decode(&prompt(Some(&study.contexts[item.world]))),
            "choices": choices,
            "answer": item.answer,
        }));
    }
    for (world, doc) in study.oracle_aug.iter().enumerate() {
        lines.push(json!({"kind": "oracle", "world": world, "text": text(doc)}));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::tests::{config, study_config};

    #[test]
    fn every_document_and_item_is_a_line_that_encodes_back() {
        let v = config().vocab().unwrap();
        let study = StudySet::generate(&config(), &study_config(), &v, 4).unwrap();
        let out = to_jsonl(&study, &v);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let n = study.train_docs.len()
            + study.contexts.len()
            + study.tests.len()
            + study.oracle_aug.len();
        assert_eq!(lines.len(), n);
        let test = lines.iter().find(|l| l["kind"] == "test").unwrap();
        let first = &study.tests[0];
        let choice = test["choices"][first.answer].as_str().unwrap();
        assert_eq!(v.encode(choice).unwrap(), first.choices[first.answer]);
        let prompt_text = test["prompt"].as_str().unwrap();
        assert!(prompt_text.starts_with("<bos> ") && prompt_text.ends_with(" <q>"));
        assert_eq!(
            v.encode(prompt_text).unwrap(),
            prompt(Some(&study.contexts[first.world]))
        );
    }
}
