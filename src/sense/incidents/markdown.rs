//! An update's markdown → HTML, safe to put on the page as it is.
//!
//! pulldown-cmark does the parsing; this module decides what may pass: raw HTML (blocks and
//! inline) becomes text, so `<script>` shows as written; links keep only `http`, `https` and
//! `mailto` targets (any other, `javascript:` first of all, becomes its text); images become
//! their alt text, since the page makes no third-party requests.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// The HTML of `markdown`.
pub fn to_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    // For each open link: whether its start was kept, so its end is too.
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        // A raw HTML block's lines come as `Html` events, shown as text in a paragraph.
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::Link {
            link_type,
            ref dest_url,
            ..
        }) => {
            let keep = link_type == LinkType::Email || safe_link(dest_url);
            links.push(keep);
            keep.then_some(event)
        }
        Event::End(TagEnd::Link) => links.pop().unwrap_or(false).then_some(event),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut html = String::with_capacity(markdown.len() + markdown.len() / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// Whether a link may go on the page: an absolute http(s) or mailto URL.
fn safe_link(dest: &str) -> bool {
    let dest = dest.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| dest.starts_with(scheme))
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn raw_html_is_text() {
        let html = to_html("Hello <script>alert(1)</script> world\n\n<div onclick=x>block</div>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;div onclick=x&gt;"), "{html}");
    }

    #[test]
    fn only_web_and_mail_links_are_kept() {
        let html = to_html(
            "[ok](https://example.net/x?a=1&b=2) [bad](javascript:alert(1)) \
             [rel](/etc/passwd) <ops@example.net> ![img](https://tracker.example/p.gif)",
        );
        assert!(
            html.contains("<a href=\"https://example.net/x?a=1&amp;b=2\">ok</a>"),
            "{html}"
        );
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains("bad"), "{html}");
        assert!(!html.contains("href=\"/etc"), "{html}");
        assert!(html.contains("mailto:ops@example.net"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("img"), "the alt text stays: {html}");
    }

    #[test]
    fn markdown_is_rendered() {
        let html = to_html("The **primary** lost its disk.\n\n- one\n- two\n");
        assert!(html.contains("<strong>primary</strong>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
    }
}
