//! Reading a parsed TOML document one key at a time, collecting every problem on the way.
//!
//! serde stops at the first error of a struct, so a file with a typo'd key, a bad duration and
//! an unknown kind would need three rounds of `check` to fix. Here the document is parsed once
//! into toml's spanned tree (`DeTable`), and each key's value is deserialized on its own: every
//! unknown key and every bad value becomes one [`ConfigError`] with its line, and reading goes
//! on. `config::resolve` asks for the keys it knows and adds the checks between keys.

use super::ConfigError;
use serde::de::DeserializeOwned;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub type Span = Range<usize>;

pub struct Reader<'t> {
    text: &'t str,
    file: String,
    problems: Vec<ConfigError>,
}

impl<'t> Reader<'t> {
    pub fn new(text: &'t str, file: String) -> Reader<'t> {
        Reader {
            text,
            file,
            problems: Vec::new(),
        }
    }

    /// How many problems so far; a caller compares two counts to see whether a part was clean.
    pub fn count(&self) -> usize {
        self.problems.len()
    }

    pub fn into_problems(self) -> Vec<ConfigError> {
        self.problems
    }

    /// Records a problem at `span` (a byte range of the text), under `key`.
    pub fn problem(&mut self, span: Option<&Span>, key: &str, message: impl Into<String>) {
        let line = span.map(|s| line_at(self.text, s.start));
        self.problems
            .push(ConfigError::new(&self.file, line, key, message));
    }

    /// Records each key of `table` that is not in `known`, naming the nearest known one when
    /// it looks like a typo of it.
    pub fn unknown_keys(&mut self, table: &DeTable<'_>, prefix: &str, known: &[&str]) {
        for (key, _) in table.iter() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let hint = match nearest(name, known) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the keys here are: {}", known.join(", ")),
            };
            self.problem(
                Some(&key.span()),
                &path(prefix, name),
                format!("unknown key `{name}`; {hint}"),
            );
        }
    }

    /// The value of `name` in `table` as a `T`, with the span of the value; `None` when the key
    /// is absent or its value is wrong (then recorded).
    pub fn get<T: DeserializeOwned>(
        &mut self,
        table: &DeTable<'_>,
        prefix: &str,
        name: &str,
    ) -> Option<(T, Span)> {
        let value = lookup(table, name)?;
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some((v, span)),
            Err(e) => {
                let at = e.span().unwrap_or_else(|| span.clone());
                self.problem(Some(&at), &path(prefix, name), e.message().to_string());
                None
            }
        }
    }

    /// The sub-table `name` (`[host]`, or `host = { … }`), if present and a table.
    pub fn table<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        name: &str,
    ) -> Option<(&'a DeTable<'i>, Span)> {
        let value = lookup(table, name)?;
        match value.get_ref() {
            DeValue::Table(t) => Some((t, value.span())),
            other => {
                self.problem(
                    Some(&value.span()),
                    name,
                    format!("expected a table [{name}], found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// The tables of an array of tables (`[[service]]`), each with its span; a value that is
    /// not one is recorded and skipped.
    pub fn tables<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        name: &str,
    ) -> Vec<(&'a DeTable<'i>, Span)> {
        let Some(value) = lookup(table, name) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                Some(&value.span()),
                name,
                format!(
                    "expected [[{name}]] tables, one per entry, found {}",
                    value.get_ref().type_str()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                other => self.problem(
                    Some(&item.span()),
                    &format!("{name}[{i}]"),
                    format!("expected a table, found {}", other.type_str()),
                ),
            }
        }
        out
    }
}

fn lookup<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(_, v)| v)
}

/// `prefix.name`, or `name` at the top.
pub fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The 1-based line of a byte offset in the config text.
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    // A span from the parser is on a char boundary; guard anyway, as slicing would panic.
    let end = (0..=end)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text[..end].matches('\n').count() + 1
}

/// The known key within two edits of `name` (a typo), if there is exactly one nearest.
fn nearest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let mut best: Option<(usize, &str)> = None;
    for &k in known {
        let d = edit_distance(name, k);
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// Levenshtein distance over chars; keys are short, so the plain table is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let known = ["interval", "title", "out_dir"];
        assert_eq!(nearest("intervall", &known), Some("interval"));
        assert_eq!(nearest("outdir", &known), Some("out_dir"));
        assert_eq!(nearest("colour", &known), None);
    }

    #[test]
    fn lines_count_from_one_and_survive_odd_offsets() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 99), 3);
        assert_eq!(line_at("é\nb", 1), 1);
    }
}
