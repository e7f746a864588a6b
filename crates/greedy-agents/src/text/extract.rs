//! The action extractor `g` (§2): the *last* `ACTION=X` in a generation whose `X` names an
//! arm wins; a generation without one is invalid, and the environment then executes a
//! uniformly random action (and the reward shaping charges the penalty).
//!
//! The patterns accepted, case-insensitively: `ACTION=X`, `ACTION = X`, `ACTION: X`, with `X`
//! optionally wrapped in `<…>`, quotes, brackets or `*`.

/// Finds actions in generated text.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionExtractor {
    labels: Vec<String>,
    keyword: String,
}

impl ActionExtractor {
    /// An extractor of `ACTION=` for arms named `labels` (matched case-insensitively).
    pub fn new(labels: &[String]) -> Self {
        Self {
            labels: labels.iter().map(|l| l.to_lowercase()).collect(),
            keyword: "action".into(),
        }
    }

    /// The same rule for another keyword, e.g. `UCB` for the arm a rationale computed as
    /// the UCB arm (the knowing–doing analysis).
    pub fn with_keyword(mut self, keyword: &str) -> Self {
        self.keyword = keyword.to_lowercase();
        self
    }

    /// The arm of the last valid `ACTION=` in `text`, or `None`.
    pub fn extract(&self, text: &str) -> Option<usize> {
        let lower = text.to_lowercase();
        let mut found = None;
        let mut from = 0;
        while let Some(at) = lower[from..].find(&self.keyword) {
            let start = from + at + self.keyword.len();
            if let Some(arm) = self.label_after(&lower[start..]) {
                found = Some(arm);
            }
            from = start;
        }
        found
    }

    /// The arm named right after a keyword: `=` or `:` (spaces allowed), then the label.
    fn label_after(&self, rest: &str) -> Option<usize> {
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
        let rest = rest
            .trim_start()
            .trim_start_matches(['<', '"', '\'', '[', '(', '*']);
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        self.labels.iter().position(|l| *l == word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_last_valid_action_wins() {
        let g = ActionExtractor::new(&labels(&["blue", "green", "red"]));
        assert_eq!(g.extract("ACTION=blue ... no wait, ACTION=red"), Some(2));
        assert_eq!(
            g.extract("ACTION=red then ACTION=purple"),
            Some(2),
            "invalid last"
        );
        assert_eq!(g.extract("I pick action: <Green>."), Some(1));
        assert_eq!(g.extract("Action = \"blue\""), Some(0));
        assert_eq!(g.extract("the action is blue"), None, "no = or :");
        assert_eq!(
            g.extract("ACTION=blueish"),
            None,
            "a longer word is not a label"
        );
        assert_eq!(g.extract(""), None);
        let ucb = g.clone().with_keyword("UCB");
        assert_eq!(ucb.extract("UCB=green GREEDY=blue ACTION=red"), Some(1));
    }

    #[test]
    fn numbered_arms_are_whole_numbers() {
        let g = ActionExtractor::new(&labels(&["0", "1", "10"]));
        assert_eq!(g.extract("ACTION=10"), Some(2));
        assert_eq!(g.extract("ACTION=1."), Some(1));
        assert_eq!(g.extract("ACTION=100"), None);
    }
}
