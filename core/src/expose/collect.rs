//! The structured encoder: keeps what a render hands it (families, samples with their
//! labels as pairs, exemplars) as [`ParsedFamily`] values, for bindings that build
//! their own objects from an exposition without going through text.

use super::format::Numbers;
use super::parse::{ParsedExemplar, ParsedFamily, ParsedSample};
use super::text::{Labels, Value};
use crate::exemplar::Exemplar;

/// Appends each family and sample it is handed to a list.
pub(crate) struct Collector<'a> {
    out: &'a mut Vec<ParsedFamily>,
    numbers: Numbers,
}

impl<'a> Collector<'a> {
    /// A collector appending to `out`, bucket bounds written as `numbers` says.
    pub fn new(out: &'a mut Vec<ParsedFamily>, numbers: Numbers) -> Collector<'a> {
        Collector { out, numbers }
    }

    /// How bucket bounds are written.
    pub fn numbers(&self) -> Numbers {
        self.numbers
    }

    /// Starts a family of kind `type_name`, named as OpenMetrics names it.
    pub fn family(&mut self, name: &str, type_name: &str, help: &str, unit: &str) {
        self.out.push(ParsedFamily {
            name: name.to_owned(),
            help: help.to_owned(),
            kind: type_name.to_owned(),
            unit: unit.to_owned(),
            samples: Vec::new(),
        });
    }

    /// Adds one sample to the family started last: `name` and `suffix`, the labels and
    /// then the `extra` label, the value and the exemplar.
    pub fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &Labels,
        extra: Option<(&str, &str)>,
        value: Value,
        exemplar: Option<&Exemplar>,
    ) {
        let Some(family) = self.out.last_mut() else {
            return;
        };
        let mut pairs = labels.pairs().to_vec();
        if let Some((n, v)) = extra {
            pairs.push((n.to_owned(), v.to_owned()));
        }
        family.samples.push(ParsedSample {
            name: [name, suffix].concat(),
            labels: pairs,
            value: value.as_f64(),
            timestamp: None,
            exemplar: exemplar.map(|x| ParsedExemplar {
                labels: x
                    .labels()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                value: x.value(),
                timestamp: Some(x.timestamp()),
            }),
        });
    }

    /// Appends families read from callback text.
    pub fn parsed(self, families: Vec<ParsedFamily>) {
        self.out.extend(families);
    }
}
