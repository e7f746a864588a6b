//! A seeded population: unique full names, uniformly drawn attribute values, and a per-person
//! split of the templates into training and held-out ones.

use std::collections::HashSet;

use kiln_core::InvalidConfig;
use kiln_core::train::SeededRng;

use super::{Attribute, TemplateSet, World};

/// One person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Individual {
    /// First, middle (both from the given names) and last name, as list indices.
    pub name: [u16; 3],
    /// Per attribute (in [`Attribute::ALL`] order) the list index of each value token; a date
    /// is `[month, day, year]`, other attributes use the first entry only.
    pub values: [[u16; 3]; 6],
    /// Per attribute the templates this person is trained on.
    pub train_templates: [Vec<u8>; 6],
    /// Per attribute the held-out templates (disjoint from the training ones).
    pub eval_templates: [Vec<u8>; 6],
}

impl Individual {
    /// The templates of `attribute` in `set`.
    pub fn templates(&self, attribute: Attribute, set: TemplateSet) -> &[u8] {
        match set {
            TemplateSet::Train => &self.train_templates[attribute as usize],
            TemplateSet::Eval => &self.eval_templates[attribute as usize],
        }
    }
}

/// Everyone in a world, in sampling order (individual `i` has power-law rank `i + 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    /// The people.
    pub individuals: Vec<Individual>,
}

impl Population {
    /// `n` people with distinct full names, all drawn from `seed`.
    ///
    /// # Errors
    /// If `n` is more than half of the possible full names (drawing distinct names would crawl).
    pub fn generate(world: &World, n: usize, seed: u64) -> Result<Self, InvalidConfig> {
        let sizes = world.config.lists;
        let possible = sizes.given_names * sizes.given_names * sizes.last_names;
        kiln_core::ensure_config!(
            2 * n <= possible,
            "{n} people need more distinct names than the lists give ({possible}); \
             enlarge `given_names` or `last_names`"
        );
        let mut rng = SeededRng::new(seed);
        let mut names = HashSet::with_capacity(n);
        let mut individuals = Vec::with_capacity(n);
        let draw = |rng: &mut SeededRng, size: usize| rng.below(size) as u16;
        while individuals.len() < n {
            let name = [
                draw(&mut rng, sizes.given_names),
                draw(&mut rng, sizes.given_names),
                draw(&mut rng, sizes.last_names),
            ];
            if !names.insert(name) {
                continue;
            }
            let values = Attribute::ALL.map(|a| {
                let mut v = [0u16; 3];
                for (slot, size) in v.iter_mut().zip(world.value_sizes(a)) {
                    *slot = draw(&mut rng, size);
                }
                v
            });
            let splits = Attribute::ALL.map(|_| {
                let order = rng.permutation(world.config.templates_per_attr);
                let order: Vec<u8> = order.into_iter().map(|t| t as u8).collect();
                let (train, eval) = order.split_at(world.config.train_templates);
                (train.to_vec(), eval.to_vec())
            });
            individuals.push(Individual {
                name,
                values,
                train_templates: splits.clone().map(|s| s.0),
                eval_templates: splits.map(|s| s.1),
            });
        }
        Ok(Self { individuals })
    }

    /// Number of people.
    pub fn len(&self) -> usize {
        self.individuals.len()
    }

    /// Whether there is nobody.
    pub fn is_empty(&self) -> bool {
        self.individuals.is_empty()
    }
}
