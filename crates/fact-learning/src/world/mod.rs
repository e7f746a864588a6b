//! The synthetic world of App. B.2: value lists, templates, a seeded population, and the
//! biographies that state its facts, as word-level token sequences with their value spans.

mod lists;
mod population;
mod templates;

use std::collections::BTreeSet;

use kiln_core::InvalidConfig;
use kiln_core::data::text::{Specials, Tokenizer, WordTokenizer};
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

pub use lists::{ListSizes, ValueLists};
pub use population::{Individual, Population};
pub use templates::Attribute;

/// What a world is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BioConfig {
    /// Sizes of the value lists.
    pub lists: ListSizes,
    /// Templates per attribute (at most 25, the paper's number).
    pub templates_per_attr: usize,
    /// Of those, how many each person is trained on (the paper's 20); the rest are held out
    /// for evaluation.
    pub train_templates: usize,
}

impl BioConfig {
    /// The CPU lists with the paper's 25 templates split 20/5.
    pub const CPU: Self = Self {
        lists: ListSizes::CPU,
        templates_per_attr: 25,
        train_templates: 20,
    };

    /// Checks the sizes.
    ///
    /// # Errors
    /// If a list is empty, more than 25 templates are asked for, or the split leaves no
    /// training or no evaluation template.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.lists.validate()?;
        kiln_core::ensure_config!(
            self.templates_per_attr <= 25,
            "`templates_per_attr` ({}) is over the 25 written per attribute",
            self.templates_per_attr
        );
        kiln_core::ensure_config!(
            self.train_templates >= 1 && self.train_templates < self.templates_per_attr,
            "`train_templates` ({}) must leave at least one of the {} templates for evaluation",
            self.train_templates,
            self.templates_per_attr
        );
        Ok(())
    }
}

/// Which of a person's templates a biography uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateSet {
    /// The ones trained on.
    Train,
    /// The held-out ones, for evaluation.
    Eval,
}

/// The tokens of a value of one attribute, in one biography: `tokens[start..start + len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSpan {
    /// Which attribute.
    pub attribute: Attribute,
    /// Index of the first value token in [`Biography::tokens`].
    pub start: usize,
    /// Number of value tokens (3 for a date, 1 otherwise).
    pub len: usize,
}

/// One training sequence: ⟨bos⟩ and six sentences, one per attribute, in random order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Biography {
    /// Token ids, ⟨bos⟩ first.
    pub tokens: Vec<u32>,
    /// Where the six values are.
    pub values: Vec<ValueSpan>,
}

/// A piece of a tokenised template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u32>),
    Name,
    Value,
}

/// The token ids of each list, index for index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListIds {
    given: Vec<u32>,
    last: Vec<u32>,
    cities: Vec<u32>,
    universities: Vec<u32>,
    majors: Vec<u32>,
    companies: Vec<u32>,
    years: Vec<u32>,
    months: Vec<u32>,
    days: Vec<u32>,
}

/// Lists, templates and the vocabulary that covers both.
#[derive(Debug, Clone)]
pub struct World {
    /// The configuration.
    pub config: BioConfig,
    /// The value lists.
    pub lists: ValueLists,
    /// Template words, then every list word, one token each.
    pub tokenizer: WordTokenizer,
    templates: Vec<Vec<Vec<Piece>>>,
    ids: ListIds,
}

impl World {
    /// Builds the world of `config`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: BioConfig) -> Result<Self, InvalidConfig> {
        config.validate()?;
        let template_words: BTreeSet<String> = Attribute::ALL
            .iter()
            .flat_map(|a| a.templates().iter())
            .flat_map(|t| t.split_whitespace())
            .filter(|w| !w.starts_with('{'))
            .map(str::to_string)
            .collect();
        let lists = ValueLists::new(config.lists, &template_words)?;
        let words = template_words
            .iter()
            .chain(lists.words())
            .cloned()
            .collect();
        let tokenizer = WordTokenizer::from_words(words)?;
        let lookup = |list: &[String]| -> Vec<u32> {
            list.iter()
                .map(|w| tokenizer.id(w).unwrap_or(tokenizer.unknown()))
                .collect()
        };
        let ids = ListIds {
            given: lookup(&lists.given_names),
            last: lookup(&lists.last_names),
            cities: lookup(&lists.cities),
            universities: lookup(&lists.universities),
            majors: lookup(&lists.majors),
            companies: lookup(&lists.companies),
            years: lookup(&lists.years),
            months: lookup(&lists.months),
            days: lookup(&lists.days),
        };
        let templates = Attribute::ALL
            .iter()
            .map(|a| {
                a.templates()[..config.templates_per_attr]
                    .iter()
                    .map(|t| pieces(t, &tokenizer))
                    .collect()
            })
            .collect();
        Ok(Self {
            config,
            lists,
            tokenizer,
            templates,
            ids,
        })
    }

    /// Number of token ids, specials included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.vocab_size()
    }

    /// ⟨bos⟩, ⟨eos⟩ and ⟨pad⟩.
    pub fn specials(&self) -> Specials {
        self.tokenizer.specials()
    }

    /// How many values `attribute` can take (for a date, years × months × days).
    pub fn value_count(&self, attribute: Attribute) -> usize {
        self.value_sizes(attribute).iter().product()
    }

    /// The size of the list behind each token of a value of `attribute`.
    pub fn value_sizes(&self, attribute: Attribute) -> Vec<usize> {
        let s = &self.config.lists;
        match attribute {
            Attribute::BirthPlace | Attribute::Location => vec![s.cities],
            Attribute::BirthDate => vec![s.months, s.days, s.years],
            Attribute::University => vec![s.universities],
            Attribute::Major => vec![s.majors],
            Attribute::Company => vec![s.companies],
        }
    }

    /// The three name tokens of `person`.
    pub fn name_tokens(&self, person: &Individual) -> [u32; 3] {
        let [first, middle, last] = person.name.map(usize::from);
        [
            self.ids.given[first],
            self.ids.given[middle],
            self.ids.last[last],
        ]
    }

    /// The value tokens of `person`'s `attribute`.
    pub fn value_tokens(&self, person: &Individual, attribute: Attribute) -> Vec<u32> {
        let v = person.values[attribute as usize].map(usize::from);
        let ids = &self.ids;
        match attribute {
            Attribute::BirthPlace | Attribute::Location => vec![ids.cities[v[0]]],
            Attribute::BirthDate => vec![ids.months[v[0]], ids.days[v[1]], ids.years[v[2]]],
            Attribute::University => vec![ids.universities[v[0]]],
            Attribute::Major => vec![ids.majors[v[0]]],
            Attribute::Company => vec![ids.companies[v[0]]],
        }
    }

    /// A fresh biography of `person`: for each attribute a template drawn from `set`, the six
    /// sentences in a random order (App. B.2: a new one for every sequence).
    pub fn biography(
        &self,
        person: &Individual,
        set: TemplateSet,
        rng: &mut SeededRng,
    ) -> Biography {
        let mut order = Attribute::ALL;
        rng.shuffle(&mut order);
        let mut tokens = vec![self.specials().bos];
        let mut values = Vec::with_capacity(6);
        for attribute in order {
            let choices = person.templates(attribute, set);
            let template = usize::from(choices[rng.below(choices.len())]);
            for piece in &self.templates[attribute as usize][template] {
                match piece {
                    Piece::Text(ids) => tokens.extend(ids),
                    Piece::Name => tokens.extend(self.name_tokens(person)),
                    Piece::Value => {
                        let value = self.value_tokens(person, attribute);
                        values.push(ValueSpan {
                            attribute,
                            start: tokens.len(),
                            len: value.len(),
                        });
                        tokens.extend(value);
                    }
                }
            }
        }
        Biography { tokens, values }
    }

    /// The template of `attribute` numbered `index`, as text with `{n}` and `{v}`.
    pub fn template_text(&self, attribute: Attribute, index: usize) -> &'static str {
        attribute.templates()[index]
    }
}

/// Splits a template into text, name and value pieces.
fn pieces(template: &str, tokenizer: &WordTokenizer) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = Vec::new();
    for word in template.split_whitespace() {
        let marker = match word {
            "{n}" => Some(Piece::Name),
            "{v}" => Some(Piece::Value),
            _ => None,
        };
        match marker {
            Some(piece) => {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(piece);
            }
            None => text.extend(tokenizer.encode(word)),
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}
