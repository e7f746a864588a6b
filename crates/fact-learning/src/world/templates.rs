//! The six attributes and the sentences that state them.
//!
//! Every template names the person (`{n}`, the three name tokens) and says which attribute it
//! is about before the value (`{v}`) appears, so a model that knows the person can predict the
//! value exactly (App. B.1). There are 25 per attribute, written for this crate; each person
//! trains on 20 of them and is evaluated on the other 5.

use serde::{Deserialize, Serialize};

/// An attribute of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Attribute {
    /// City of birth.
    BirthPlace,
    /// Date of birth: month, day and year (three tokens).
    BirthDate,
    /// City of residence (drawn independently of the birth place and the company).
    Location,
    /// University.
    University,
    /// Field of study.
    Major,
    /// Employer.
    Company,
}

impl Attribute {
    /// All six, in the order used for labels (`attribute as usize`).
    pub const ALL: [Attribute; 6] = [
        Attribute::BirthPlace,
        Attribute::BirthDate,
        Attribute::Location,
        Attribute::University,
        Attribute::Major,
        Attribute::Company,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::BirthPlace => "birth place",
            Attribute::BirthDate => "birth date",
            Attribute::Location => "location",
            Attribute::University => "university",
            Attribute::Major => "major",
            Attribute::Company => "company",
        }
    }

    /// The 25 templates of this attribute.
    pub fn templates(self) -> &'static [&'static str; 25] {
        match self {
            Attribute::BirthPlace => &BIRTH_PLACE,
            Attribute::BirthDate => &BIRTH_DATE,
            Attribute::Location => &LOCATION,
            Attribute::University => &UNIVERSITY,
            Attribute::Major => &MAJOR,
            Attribute::Company => &COMPANY,
        }
    }
}

const BIRTH_PLACE: [&str; 25] = [
    "{n} was born in {v} .",
    "{n} came into the world in {v} .",
    "the birthplace of {n} is {v} .",
    "{n} was born in the city of {v} .",
    "{n} first saw the light of day in {v} .",
    "records show that {n} was born in {v} .",
    "{n} has {v} as a birthplace .",
    "{n} began life in {v} .",
    "the city where {n} was born is {v} .",
    "{n} is a native of {v} .",
    "{n} entered this world in {v} .",
    "as for birthplace , {n} was born in {v} .",
    "{n} spent the first days of life in {v} .",
    "the hometown of {n} is {v} .",
    "{n} hails from {v} , the city of birth .",
    "{n} was delivered in a hospital in {v} .",
    "the place of birth of {n} was {v} .",
    "{n} was born and raised in {v} .",
    "according to the birth certificate , {n} was born in {v} .",
    "{n} traces a birth to {v} .",
    "{n} drew a first breath in {v} .",
    "birth records list {n} as born in {v} .",
    "{n} arrived as a newborn in {v} .",
    "{n} celebrates {v} as the city of birth .",
    "{n} , born in {v} , grew up there .",
];

const BIRTH_DATE: [&str; 25] = [
    "{n} was born on {v} .",
    "{n} came into the world on {v} .",
    "the birthday of {n} is {v} .",
    "{n} celebrates a birthday on {v} .",
    "the date of birth of {n} is {v} .",
    "{n} was born on the day of {v} .",
    "records show that {n} was born on {v} .",
    "{n} entered this world on {v} .",
    "{n} began life on {v} .",
    "as for the birth date , {n} was born on {v} .",
    "{n} arrived on {v} .",
    "{n} first saw the light of day on {v} .",
    "the birth certificate of {n} reads {v} .",
    "{n} has a date of birth of {v} .",
    "{n} was delivered on {v} .",
    "according to the records , {n} was born on {v} .",
    "{n} , born on {v} , keeps the date in mind .",
    "the day {n} was born was {v} .",
    "{n} drew a first breath on {v} .",
    "birth records list {n} as born on {v} .",
    "{n} was born exactly on {v} .",
    "{n} marks {v} as the date of birth .",
    "family members recall that {n} was born on {v} .",
    "{n} came to life on {v} .",
    "the calendar says {n} was born on {v} .",
];

const LOCATION: [&str; 25] = [
    "{n} lives in {v} .",
    "{n} currently lives in {v} .",
    "{n} resides in {v} .",
    "the current home of {n} is {v} .",
    "{n} now calls {v} home .",
    "{n} has settled in {v} .",
    "these days {n} lives in {v} .",
    "{n} makes a home in {v} .",
    "the present address of {n} is in {v} .",
    "{n} is now based in {v} .",
    "{n} moved to {v} and lives there .",
    "{n} currently resides in the city of {v} .",
    "at present , {n} lives in {v} .",
    "{n} rents a flat in {v} .",
    "the city where {n} lives now is {v} .",
    "{n} spends every day living in {v} .",
    "{n} has a house in {v} .",
    "as for location , {n} lives in {v} .",
    "{n} recently relocated to {v} .",
    "{n} is a resident of {v} .",
    "{n} can be found living in {v} .",
    "mail for {n} goes to {v} .",
    "{n} lives today in {v} .",
    "{n} dwells in {v} .",
    "{n} has an apartment in {v} .",
];

const UNIVERSITY: [&str; 25] = [
    "{n} studied at {v} .",
    "{n} graduated from {v} .",
    "{n} attended {v} .",
    "the university of {n} was {v} .",
    "{n} earned a degree at {v} .",
    "{n} went to university at {v} .",
    "{n} is a graduate of {v} .",
    "{n} received an education at {v} .",
    "{n} enrolled at {v} .",
    "as a student , {n} attended {v} .",
    "{n} spent college years at {v} .",
    "the alma mater of {n} is {v} .",
    "{n} completed studies at {v} .",
    "{n} was educated at {v} .",
    "{n} holds a diploma from {v} .",
    "{n} took classes at {v} .",
    "records show that {n} studied at {v} .",
    "{n} was a student at {v} .",
    "for university , {n} chose {v} .",
    "{n} finished a degree at {v} .",
    "{n} went to {v} for higher education .",
    "{n} was trained at {v} .",
    "the school {n} attended was {v} .",
    "{n} studied for years at {v} .",
    "{n} got an education from {v} .",
];

const MAJOR: [&str; 25] = [
    "{n} majored in {v} .",
    "{n} studied {v} .",
    "the major of {n} was {v} .",
    "{n} earned a degree in {v} .",
    "{n} specialized in {v} .",
    "{n} focused on {v} in college .",
    "the field of study of {n} was {v} .",
    "{n} chose {v} as a major .",
    "{n} concentrated on {v} .",
    "{n} received a degree in {v} .",
    "{n} wrote a thesis in {v} .",
    "as a student , {n} majored in {v} .",
    "{n} took a major in {v} .",
    "{n} learned {v} at university .",
    "{n} holds a degree in {v} .",
    "the subject {n} studied was {v} .",
    "{n} pursued {v} .",
    "{n} graduated with a major in {v} .",
    "{n} was trained in {v} .",
    "{n} completed a program in {v} .",
    "academically , {n} focused on {v} .",
    "{n} spent college years studying {v} .",
    "the degree of {n} is in {v} .",
    "{n} devoted studies to {v} .",
    "{n} majored with honors in {v} .",
];

const COMPANY: [&str; 25] = [
    "{n} works at {v} .",
    "{n} is employed by {v} .",
    "the employer of {n} is {v} .",
    "{n} works for {v} .",
    "{n} has a job at {v} .",
    "{n} earns a living at {v} .",
    "{n} is on the staff of {v} .",
    "{n} joined {v} .",
    "{n} currently works for {v} .",
    "the company of {n} is {v} .",
    "{n} is paid by {v} .",
    "as for work , {n} is employed by {v} .",
    "{n} holds a position at {v} .",
    "{n} spends working days at {v} .",
    "{n} was hired by {v} .",
    "{n} is an employee of {v} .",
    "the workplace of {n} is {v} .",
    "{n} builds a career at {v} .",
    "{n} reports to work at {v} .",
    "professionally , {n} works at {v} .",
    "{n} takes a salary from {v} .",
    "{n} signed a contract with {v} .",
    "{n} is part of the team at {v} .",
    "{n} works full time for {v} .",
    "{n} has worked for years at {v} .",
];
