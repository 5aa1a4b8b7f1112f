//! What an http body must say: `expect_text` (a substring) and `expect_json` (JSON Pointer →
//! value, or a comparison like `"< 100"` for numbers).
//!
//! A mismatch is `down`, or `degraded` with `on_mismatch = "degraded"`, and its message says
//! what was expected and what was found, clipped: the body is the peer's text.

use crate::config::{Compare, JsonExpect};
use serde_json::Value;

/// The longest found value a message quotes.
const MAX_FOUND_CHARS: usize = 80;

/// `None` when the body says what it must; else why not.
pub fn mismatch(body: &[u8], text: Option<&str>, json: &[(String, JsonExpect)]) -> Option<String> {
    if let Some(want) = text {
        let body = String::from_utf8_lossy(body);
        if !body.contains(want) {
            return Some(format!(
                "the body does not contain {:?} (it begins {:?})",
                crate::redact::clip(want, MAX_FOUND_CHARS),
                crate::redact::clip(body.trim_start(), MAX_FOUND_CHARS)
            ));
        }
    }
    if json.is_empty() {
        return None;
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Some("expected a JSON body, found something else".into());
    };
    let problems: Vec<String> = json
        .iter()
        .filter_map(|(pointer, want)| {
            let found = doc.pointer(pointer);
            if matches(found, want) {
                return None;
            }
            let found = match found {
                None => "nothing".to_string(),
                Some(v) => crate::redact::clip(&v.to_string(), MAX_FOUND_CHARS),
            };
            Some(format!(
                "{pointer}: expected {}, found {found}",
                want_words(want)
            ))
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn matches(found: Option<&Value>, want: &JsonExpect) -> bool {
    match (want, found) {
        (JsonExpect::Equals(w), Some(f)) => {
            // 1 and 1.0 are the same number to a person writing the config.
            match (w.as_f64(), f.as_f64()) {
                (Some(a), Some(b)) if w.is_number() && f.is_number() => a == b,
                _ => w == f,
            }
        }
        (JsonExpect::Compare(op, limit), Some(f)) => f.as_f64().is_some_and(|n| match op {
            Compare::Lt => n < *limit,
            Compare::Le => n <= *limit,
            Compare::Gt => n > *limit,
            Compare::Ge => n >= *limit,
            Compare::Eq => n == *limit,
            Compare::Ne => n != *limit,
        }),
        (_, None) => false,
    }
}

fn want_words(want: &JsonExpect) -> String {
    match want {
        JsonExpect::Equals(v) => crate::redact::clip(&v.to_string(), MAX_FOUND_CHARS),
        JsonExpect::Compare(op, n) => format!("{} {n}", op.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_json_expectations_say_expected_and_found() {
        let body = br#"{"status":"ok","queue":120,"db":{"connected":true}}"#;
        assert_eq!(mismatch(body, Some("\"ok\""), &[]), None);
        let e = mismatch(body, Some("healthy"), &[]).unwrap();
        assert!(
            e.starts_with("the body does not contain \"healthy\""),
            "{e}"
        );
        let ok = vec![
            ("/status".to_string(), JsonExpect::Equals(json!("ok"))),
            ("/db/connected".to_string(), JsonExpect::Equals(json!(true))),
            (
                "/queue".to_string(),
                JsonExpect::Compare(Compare::Lt, 200.0),
            ),
        ];
        assert_eq!(mismatch(body, None, &ok), None);
        let bad = vec![
            (
                "/queue".to_string(),
                JsonExpect::Compare(Compare::Lt, 100.0),
            ),
            ("/missing".to_string(), JsonExpect::Equals(json!(1))),
        ];
        assert_eq!(
            mismatch(body, None, &bad).unwrap(),
            "/queue: expected < 100, found 120; /missing: expected 1, found nothing"
        );
        assert_eq!(
            mismatch(b"<html>", None, &ok).unwrap(),
            "expected a JSON body, found something else"
        );
    }
}
