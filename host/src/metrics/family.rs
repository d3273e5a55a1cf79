//! Labelled metrics: one [`Counter`] or [`Histogram`] per value of a label, created on
//! first use and kept in creation order.

use std::sync::{Arc, PoisonError, RwLock};

use super::{BUCKETS, Counter, Exposition, Histogram};

/// Metrics of one kind, one per label value, shared by their clones.
#[derive(Debug)]
struct Family<T> {
    label: &'static str,
    members: Arc<RwLock<Vec<(String, T)>>>,
}

impl<T> Clone for Family<T> {
    fn clone(&self) -> Self {
        Self {
            label: self.label,
            members: Arc::clone(&self.members),
        }
    }
}

impl<T: Clone + Default> Family<T> {
    fn new(label: &'static str) -> Self {
        Self {
            label,
            members: Arc::default(),
        }
    }

    /// The member for `value`, created if new. Takes a lock: call it at set-up and keep
    /// the handle, not on every count.
    fn get(&self, value: &str) -> T {
        if let Some((_, member)) = self
            .members
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(v, _)| v == value)
        {
            return member.clone();
        }
        let mut members = self.members.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, member)) = members.iter().find(|(v, _)| v == value) {
            return member.clone();
        }
        let member = T::default();
        members.push((value.to_owned(), member.clone()));
        member
    }

    fn snapshot(&self) -> Vec<(String, T)> {
        self.members
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A counter per value of one label (`moat_messages_total{action="reject"}`).
#[derive(Debug, Clone)]
pub struct CounterFamily(Family<Counter>);

impl CounterFamily {
    pub(super) fn new(label: &'static str) -> Self {
        Self(Family::new(label))
    }

    /// The counter for `value`, created at 0 if new.
    pub fn get(&self, value: &str) -> Counter {
        self.0.get(value)
    }

    pub(super) fn write(&self, out: &mut Exposition, name: &str) {
        for (value, counter) in self.0.snapshot() {
            out.sample(name, &[(self.0.label, &value)], counter.get());
        }
    }
}

/// A histogram per value of one label (`moat_plugin_call_seconds{plugin="bayes"}`).
#[derive(Debug, Clone)]
pub struct HistogramFamily(Family<Histogram>);

impl HistogramFamily {
    pub(super) fn new(label: &'static str) -> Self {
        Self(Family::new(label))
    }

    /// The histogram for `value`, created empty if new.
    pub fn get(&self, value: &str) -> Histogram {
        self.0.get(value)
    }

    pub(super) fn write(&self, out: &mut Exposition, name: &str) {
        let label = self.0.label;
        let (bucket, sum, count) = (
            format!("{name}_bucket"),
            format!("{name}_sum"),
            format!("{name}_count"),
        );
        for (value, histogram) in self.0.snapshot() {
            let (cumulative, seconds) = histogram.snapshot();
            for (bound, total) in BUCKETS.iter().zip(cumulative) {
                let le = bound.to_string();
                out.sample(&bucket, &[(label, &value), ("le", &le)], total);
            }
            let total = cumulative[BUCKETS.len()];
            out.sample(&bucket, &[(label, &value), ("le", "+Inf")], total);
            out.sample(&sum, &[(label, &value)], seconds);
            out.sample(&count, &[(label, &value)], total);
        }
    }
}
