//! Reading a parsed TOML document one key at a time, collecting every problem on the way.
//!
//! serde stops at the first error of a struct, so a file with a typo'd key, a bad duration and
//! an unknown kind would need three rounds of `check` to fix. Here the document is parsed once
//! into toml's spanned tree (`DeTable`), and each key's value is deserialized on its own: every
//! unknown key and every bad value becomes one [`ConfigError`] with its line, and reading goes
//! on. `config::resolve` asks for the keys it knows and adds the checks between keys.
//!
//! Any string value may name a secret as `${NAME}`: it is read from the environment variable
//! `NAME`, or from the file named by `NAME_FILE` (systemd credentials), when the value is read.
//! An unset name is a problem at that line. The values put in are kept ([`Reader::interpolated`])
//! so every message can be scrubbed of them ([`super::Secrets::values`]). `$${` stands for a literal `${`.

use super::{ConfigError, Env, Secret};
use serde::de::DeserializeOwned;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub type Span = Range<usize>;

pub struct Reader<'t> {
    text: &'t str,
    file: String,
    problems: Vec<ConfigError>,
    env: &'t Env,
    /// Every value a `${NAME}` was replaced with, for scrubbing messages.
    interpolated: Vec<Secret>,
}

impl<'t> Reader<'t> {
    pub fn new(text: &'t str, file: String, env: &'t Env) -> Reader<'t> {
        Reader {
            text,
            file,
            problems: Vec::new(),
            env,
            interpolated: Vec::new(),
        }
    }

    /// How many problems so far; a caller compares two counts to see whether a part was clean.
    pub fn count(&self) -> usize {
        self.problems.len()
    }

    /// The problems, and the values put in for `${NAME}`s.
    pub fn finish(self) -> (Vec<ConfigError>, Vec<Secret>) {
        (self.problems, self.interpolated)
    }

    /// Records a problem at `span` (a byte range of the text), under `key`.
    pub fn problem(&mut self, span: Option<&Span>, key: &str, message: impl Into<String>) {
        let line = span.map(|s| line_at(self.text, s.start));
        let mut message = message.into();
        if !self.interpolated.is_empty() {
            let secrets: Vec<&str> = self.interpolated.iter().map(Secret::expose).collect();
            message = crate::redact::secrets(&message, &secrets);
        }
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
        let mut value = lookup(table, name)?.clone();
        let span = value.span();
        let key = path(prefix, name);
        if !self.interpolate(&mut value, &key) {
            return None;
        }
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some((v, span)),
            Err(e) => {
                let at = e.span().unwrap_or_else(|| span.clone());
                self.problem(Some(&at), &key, e.message().to_string());
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

impl Reader<'_> {
    /// Replaces each `${NAME}` in the strings of `value` (nested ones too); false, with the
    /// problem recorded, when a name is not set or cannot be read.
    fn interpolate(&mut self, value: &mut Spanned<DeValue<'_>>, key: &str) -> bool {
        let span = value.span();
        match value.get_mut() {
            DeValue::String(text) if text.contains("${") => {
                match expand(text, self.env, &mut self.interpolated) {
                    Ok(done) => {
                        *text = done.into();
                        true
                    }
                    Err(why) => {
                        self.problem(Some(&span), key, why);
                        false
                    }
                }
            }
            DeValue::Array(items) => {
                let mut ok = true;
                for item in items.iter_mut() {
                    ok &= self.interpolate(item, key);
                }
                ok
            }
            DeValue::Table(table) => {
                let mut ok = true;
                for (_, item) in table.iter_mut() {
                    ok &= self.interpolate(item, key);
                }
                ok
            }
            _ => true,
        }
    }
}

/// `text` with every `${NAME}` replaced by the secret `NAME` (or the file `NAME_FILE` names),
/// each value pushed onto `found`; `$${` is a literal `${`. The error never holds a value.
pub fn expand(text: &str, env: &Env, found: &mut Vec<Secret>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${NAME}`: the first `$` escapes; keep `${` as written.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` without its closing `}` (write `$${` for a literal `${`)".into());
        };
        let name = &after[..end];
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "`${{{}}}` is not a variable name (letters, digits and `_`)",
                crate::redact::text(&name.chars().take(40).collect::<String>())
            ));
        }
        match Secret::from_env(env, name)? {
            Some(secret) => {
                out.push_str(secret.expose());
                found.push(secret);
            }
            None => {
                return Err(format!(
                    "`${{{name}}}` is not set: set the environment variable {name}, or {name}_FILE \
                     to a file holding it"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_are_replaced_from_the_environment_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let env = env(&[("TOPIC", "alerts-42"), ("BOT_FILE", file.to_str().unwrap())]);
        let mut found = Vec::new();
        let text = expand("https://ntfy.sh/${TOPIC}?t=${BOT}", &env, &mut found).unwrap();
        assert_eq!(text, "https://ntfy.sh/alerts-42?t=from-file");
        assert_eq!(found.len(), 2);
        assert_eq!(expand("cost $${X}", &env, &mut found).unwrap(), "cost ${X}");
    }

    #[test]
    fn an_unset_or_malformed_name_is_a_problem_that_quotes_no_value() {
        let env = env(&[("SET", "s3cret")]);
        let mut found = Vec::new();
        let e = expand("${MISSING}", &env, &mut found).unwrap_err();
        assert!(
            e.contains("MISSING is not set") || e.contains("`${MISSING}` is not set"),
            "{e}"
        );
        assert!(expand("${SET", &env, &mut found).is_err());
        assert!(expand("${1X}", &env, &mut found).is_err());
        assert!(found.is_empty());
    }

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
