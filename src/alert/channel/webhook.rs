//! `kind = "webhook"`: the event as a JSON POST (the body is documented in the README), or the
//! output of the alert's `body_template` (tera, with the event's fields as its context).

use super::{Ctx, Event, post};
use url::Url;

pub async fn send(
    ctx: &Ctx,
    url: &Url,
    template: Option<&str>,
    event: &Event,
) -> Result<(), String> {
    let body = match template {
        None => serde_json::to_vec(event).map_err(|e| e.to_string())?,
        Some(t) => render(t, event)?.into_bytes(),
    };
    post(ctx, url, "application/json", &[], &body).await
}

/// The body from the user's template; autoescaping is off (the body is not HTML).
pub fn render(template: &str, event: &Event) -> Result<String, String> {
    let context = tera::Context::from_serialize(event).map_err(|e| e.to_string())?;
    tera::Tera::one_off(template, &context, false).map_err(|e| format!("body_template failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_template_sees_the_event() {
        let event = Event::test("hook", Some("https://status.example.net/".into()));
        let body = render(
            r#"{"msg": "{{ title }}", "link": "{{ url }}", "event": "{{ event }}"}"#,
            &event,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["link"], "https://status.example.net/");
        assert_eq!(v["event"], "test");
        assert!(v["msg"].as_str().unwrap().contains("Test message"));
    }
}
