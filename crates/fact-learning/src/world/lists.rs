//! The value lists of the synthetic world: invented names, cities, universities, majors and
//! companies, and the dates.
//!
//! The paper draws names and values from real tables (900 given names, 1,000 last names, the
//! 800 largest cities, …). We cannot ship those, so every list is made of invented,
//! pronounceable words: two syllables and an ending that marks the kind (`-son` for last names,
//! `-ville` for cities, `-corp` for companies, …). The words depend only on the list sizes, not
//! on any seed, and no word belongs to two lists. Each name part and each categorical value is
//! one token; a birth date is three (month, day, year).

use std::collections::BTreeSet;

use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use kiln_core::InvalidConfig;

/// How many values each list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSizes {
    /// Given names (first and middle names share this list; the paper's 900).
    pub given_names: usize,
    /// Last names (1,000).
    pub last_names: usize,
    /// Cities, for birth place and current location (800).
    pub cities: usize,
    /// Universities (200).
    pub universities: usize,
    /// Majors (100).
    pub majors: usize,
    /// Companies (500).
    pub companies: usize,
    /// Birth years, from 1900 on (201 for 1900–2100).
    pub years: usize,
    /// Birth months, from January (12).
    pub months: usize,
    /// Birth days, from the 1st (31; the paper allows February 31).
    pub days: usize,
}

impl ListSizes {
    /// The sizes suggested for a CPU run: a baseline of 4.924 nats.
    pub const CPU: Self = Self {
        given_names: 96,
        last_names: 128,
        cities: 64,
        universities: 32,
        majors: 32,
        companies: 48,
        years: 100,
        months: 12,
        days: 28,
    };

    /// The paper's sizes (the year range taken as 1900–2100 inclusive): 6.785 nats.
    pub const PAPER: Self = Self {
        given_names: 900,
        last_names: 1000,
        cities: 800,
        universities: 200,
        majors: 100,
        companies: 500,
        years: 201,
        months: 12,
        days: 31,
    };

    /// Checks every list is non-empty and the months and days fit a calendar.
    ///
    /// # Errors
    /// The first size that cannot work, by name.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let named = [
            ("given_names", self.given_names),
            ("last_names", self.last_names),
            ("cities", self.cities),
            ("universities", self.universities),
            ("majors", self.majors),
            ("companies", self.companies),
            ("years", self.years),
            ("months", self.months),
            ("days", self.days),
        ];
        for (name, n) in named {
            kiln_core::ensure_config!(n > 0, "list size `{name}` must be at least 1");
            kiln_core::ensure_config!(n <= 4096, "list size `{name}` ({n}) is over 4096");
        }
        kiln_core::ensure_config!(self.months <= 12, "`months` ({}) is over 12", self.months);
        kiln_core::ensure_config!(self.days <= 31, "`days` ({}) is over 31", self.days);
        Ok(())
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const ONSETS: [&str; 20] = [
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr",
    "st", "th",
];
const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ai", "ea", "ou"];

/// The words of every list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLists {
    /// The sizes they were made with.
    pub sizes: ListSizes,
    /// Given names.
    pub given_names: Vec<String>,
    /// Last names.
    pub last_names: Vec<String>,
    /// Cities.
    pub cities: Vec<String>,
    /// Universities.
    pub universities: Vec<String>,
    /// Majors.
    pub majors: Vec<String>,
    /// Companies.
    pub companies: Vec<String>,
    /// Years, `"1900"` on.
    pub years: Vec<String>,
    /// Month names.
    pub months: Vec<String>,
    /// Days, `"1"` on.
    pub days: Vec<String>,
}

impl ValueLists {
    /// The lists of `sizes`; `reserved` words (the templates' own) are never used as values.
    ///
    /// # Errors
    /// If a size is invalid.
    pub fn new(sizes: ListSizes, reserved: &BTreeSet<String>) -> Result<Self, InvalidConfig> {
        sizes.validate()?;
        let mut taken = reserved.clone();
        let mut invent = |n: usize, endings: &[&str], stream: u64| {
            let mut rng = SeededRng::new(0x6269_6f73 ^ stream);
            let mut words = Vec::with_capacity(n);
            while words.len() < n {
                let word = format!(
                    "{}{}{}{}{}",
                    ONSETS[rng.below(ONSETS.len())],
                    VOWELS[rng.below(VOWELS.len())],
                    ONSETS[rng.below(ONSETS.len())],
                    VOWELS[rng.below(VOWELS.len())],
                    endings[rng.below(endings.len())],
                );
                if taken.insert(word.clone()) {
                    words.push(word);
                }
            }
            words
        };
        let given_names = invent(sizes.given_names, &["", "n", "l", "ra", "na"], 1);
        let last_names = invent(sizes.last_names, &["son", "ski", "berg", "wick", "ley"], 2);
        let cities = invent(sizes.cities, &["ville", "port", "ham", "dale", "mouth"], 3);
        let universities = invent(sizes.universities, &["college", "institute", "academy"], 4);
        let majors = invent(sizes.majors, &["ology", "ics", "istry", "onomy"], 5);
        let companies = invent(sizes.companies, &["corp", "soft", "works", "labs"], 6);
        Ok(Self {
            sizes,
            given_names,
            last_names,
            cities,
            universities,
            majors,
            companies,
            years: (0..sizes.years).map(|y| (1900 + y).to_string()).collect(),
            months: MONTHS[..sizes.months]
                .iter()
                .map(|m| m.to_string())
                .collect(),
            days: (1..=sizes.days).map(|d| d.to_string()).collect(),
        })
    }

    /// Every word of every list, names first.
    pub fn words(&self) -> impl Iterator<Item = &String> {
        [
            &self.given_names,
            &self.last_names,
            &self.cities,
            &self.universities,
            &self.majors,
            &self.companies,
            &self.years,
            &self.months,
            &self.days,
        ]
        .into_iter()
        .flatten()
    }
}
