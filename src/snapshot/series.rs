//! [`Series`]: a service's day strip or latency slots (`Service::days`, `Service::latency_24h`),
//! a short list of optional numbers that every snapshot alive holds for every service. This
//! module owns how they are kept: shared (an `Arc`: the snapshot being made, the last one kept
//! for a re-render and the one the per-service files are written from hold the same one, and
//! the history hands it out again while the values are the same; as a `Vec` each was 1.5 KB a
//! service a snapshot, 45 MB at 5,000 services) and compact. The history computes every value as a whole number of
//! ten-thousandths (a day's availability) or tenths of a ms (a slot's latency) divided by that
//! unit, so a series is kept as those `u32` codes and its unit, 4 bytes a value instead of the
//! 16 of an `Option<f64>`; the value read back is the same `f64`, bit for bit, so `status.json`
//! and the pages print the same text. Any other list (a test's, one read back from JSON) is kept
//! as plain `Option<f64>`s, so nothing a caller puts in is ever rounded.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// A list of optional numbers, read with [`Series::get`] and [`Series::iter`]; cheap to clone
/// (it is shared). Serialised as the plain array (`null` for a missing value).
#[derive(Clone)]
pub struct Series(Repr);

#[derive(Clone)]
enum Repr {
    /// Value `i` is `f64::from(codes[i]) / unit`, none where the code is [`NONE`].
    Coded {
        unit: f64,
        codes: Arc<[u32]>,
    },
    Plain(Arc<[Option<f64>]>),
}

/// The code of a missing value.
pub const NONE: u32 = u32::MAX;

/// The units a list of plain values is tried in, in this order, to be kept coded: the
/// sparkline's tenths of a ms and the strip's ten-thousandths.
const UNITS: [f64; 2] = [10.0, 10_000.0];

impl Default for Series {
    fn default() -> Series {
        Series(Repr::Plain(Arc::from(Vec::new())))
    }
}

impl Series {
    /// The series whose value `i` is `codes[i] / unit` ([`NONE`]: no value), exactly as
    /// `f64::from(code) / unit` computes it.
    pub fn coded(unit: f64, codes: impl IntoIterator<Item = u32>) -> Series {
        Series(Repr::Coded {
            unit,
            codes: codes.into_iter().collect(),
        })
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Coded { codes, .. } => codes.len(),
            Repr::Plain(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i`; `None` when it has none or there is no value `i`.
    pub fn get(&self, i: usize) -> Option<f64> {
        match &self.0 {
            Repr::Coded { unit, codes } => {
                let code = *codes.get(i)?;
                (code != NONE).then(|| f64::from(code) / unit)
            }
            Repr::Plain(values) => values.get(i).copied().flatten(),
        }
    }

    /// The last value (today's, the running quarter hour's); `None` when it has none.
    pub fn last(&self) -> Option<f64> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// Every value in order, `None` where there is none.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Option<f64>> + ExactSizeIterator + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn to_vec(&self) -> Vec<Option<f64>> {
        self.iter().collect()
    }

    /// This series with value `i` set to `v` (a copy when it is shared), as a test changes one.
    pub fn set(&mut self, i: usize, v: Option<f64>) {
        let mut values = self.to_vec();
        values[i] = v;
        *self = values.into();
    }

    /// Whether both are the same allocation (not a copy of it).
    pub fn ptr_eq(a: &Series, b: &Series) -> bool {
        match (&a.0, &b.0) {
            (Repr::Coded { codes: a, .. }, Repr::Coded { codes: b, .. }) => Arc::ptr_eq(a, b),
            (Repr::Plain(a), Repr::Plain(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Whether both hold the same values, bit for bit (a NaN is the same NaN).
    pub fn same(&self, other: &Series) -> bool {
        match (&self.0, &other.0) {
            (Repr::Coded { unit: u, codes: a }, Repr::Coded { unit: v, codes: b })
                if u.to_bits() == v.to_bits() =>
            {
                a == b
            }
            _ => {
                let bits = |v: Option<f64>| v.map(f64::to_bits);
                self.iter().map(bits).eq(other.iter().map(bits))
            }
        }
    }

    /// The bytes its values take (shared by every holder; not the `Arc`'s two counts).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Coded { codes, .. } => size_of_val(&**codes),
            Repr::Plain(values) => size_of_val(&**values),
        }
    }
}

/// `v` as a code of `unit`, if `f64::from(code) / unit` gives `v` back bit for bit.
fn code_of(v: f64, unit: f64) -> Option<u32> {
    let code = (v * unit).round();
    // The range check first: `as` would saturate, and NaN fails every comparison. The value is
    // then read back as `get` reads it (so -0.0, read back as 0.0, stays plain).
    if !(code >= 0.0 && code < f64::from(NONE)) {
        return None;
    }
    let code = code as u32;
    ((f64::from(code) / unit).to_bits() == v.to_bits()).then_some(code)
}

impl From<Vec<Option<f64>>> for Series {
    /// Coded when every value is a whole number of one of the units, plain otherwise.
    fn from(values: Vec<Option<f64>>) -> Series {
        for unit in UNITS {
            let codes: Option<Vec<u32>> = values
                .iter()
                .map(|v| v.map_or(Some(NONE), |v| code_of(v, unit)))
                .collect();
            if let Some(codes) = codes {
                return Series::coded(unit, codes);
            }
        }
        Series(Repr::Plain(values.into()))
    }
}

impl FromIterator<Option<f64>> for Series {
    fn from_iter<I: IntoIterator<Item = Option<f64>>>(iter: I) -> Series {
        iter.into_iter().collect::<Vec<_>>().into()
    }
}

/// Equal when the values are (`==` on each number, so a NaN is unequal to itself).
impl PartialEq for Series {
    fn eq(&self, other: &Series) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Series {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Series, D::Error> {
        Vec::<Option<f64>>::deserialize(d).map(Series::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_of_the_history_takes_4_bytes_and_reads_back_bit_for_bit() {
        // What the history hands out: a strip in ten-thousandths, slots in tenths of a ms.
        let strip: Vec<Option<f64>> = (0..=10_000u32)
            .map(|c| (c % 7 != 0).then(|| f64::from(c) / 10_000.0))
            .collect();
        let slots: Vec<Option<f64>> = (0..100_000u32)
            .map(|c| (c % 5 != 0).then(|| f64::from(c) / 10.0))
            .collect();
        for values in [strip, slots] {
            let series = Series::from(values.clone());
            assert_eq!(series.heap_bytes(), 4 * values.len());
            let bits = |v: Option<f64>| v.map(f64::to_bits);
            assert!(series.iter().map(bits).eq(values.iter().copied().map(bits)));
            assert_eq!(
                serde_json::to_string(&series).unwrap(),
                serde_json::to_string(&values).unwrap()
            );
        }
    }

    #[test]
    fn any_other_value_is_kept_as_it_is() {
        for odd in [
            0.123_456_7,
            -0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            1e300,
            0.1 + 0.2,
        ] {
            let values = vec![Some(1.0), None, Some(odd)];
            let series = Series::from(values.clone());
            assert_eq!(series.heap_bytes(), 16 * 3, "{odd}");
            assert_eq!(series.get(2).map(f64::to_bits), Some(odd.to_bits()));
            assert_eq!(
                serde_json::to_string(&series).unwrap(),
                serde_json::to_string(&values).unwrap()
            );
        }
        let mut series = Series::from(vec![Some(0.5), None]);
        let shared = series.clone();
        series.set(1, Some(2.25));
        assert_eq!(series.to_vec(), vec![Some(0.5), Some(2.25)]);
        assert_eq!(shared.to_vec(), vec![Some(0.5), None], "a copy was changed");
        assert!(series.same(&Series::from(vec![Some(0.5), Some(2.25)])));
        assert!(!series.same(&shared));
        let json: Series = serde_json::from_str("[0.25,null,3.5]").unwrap();
        assert_eq!(json.to_vec(), vec![Some(0.25), None, Some(3.5)]);
        assert_eq!(json.last(), Some(3.5));
        assert_eq!(Series::default().last(), None);
    }
}
