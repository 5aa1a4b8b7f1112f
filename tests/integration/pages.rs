//! Custom pages: every `pages/NAME.html` in templates_dir is rendered with the snapshot into
//! `NAME.html` in out_dir and linked in the navigation; a broken one keeps its last good file.

use crate::common::Site;

fn read(site: &Site, name: &str) -> String {
    std::fs::read_to_string(site.out().join(name)).unwrap()
}

#[test]
fn custom_pages_are_published_linked_and_a_broken_one_keeps_its_last_good_file() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let pages = site.path("templates/pages");
    std::fs::create_dir_all(&pages).unwrap();
    // The README's example page, as a user would copy it.
    std::fs::write(
        pages.join("host.html"),
        include_str!("../../examples/pages/host.html"),
    )
    .unwrap();
    let notes = pages.join("notes.html");
    std::fs::write(
        &notes,
        "{# title: Notes #}\n{% extends \"base.html\" %}{% block main %}<p>v1 {{ overall }}</p>{% endblock main %}\n",
    )
    .unwrap();
    let out = site.run(&["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(read(&site, "host.html").contains("<h1>Host details</h1>"));
    assert!(read(&site, "notes.html").contains("<p>v1 up</p>"));
    let nav = "<a href=\"index.html\">Status</a> <a href=\"history.html\">History</a> <a href=\"host.html\">Host details</a> <a href=\"notes.html\">Notes</a> <a href=\"tasks.html\">Tasks</a>";
    assert!(read(&site, "index.html").contains(nav));
    assert!(read(&site, "notes.html").contains(nav));

    // Broken on line 3: the last good notes.html stays, the other pages are still written.
    std::fs::write(
        &notes,
        "{% extends \"base.html\" %}\n{% block main %}\n{{ overall | }}\n{% endblock main %}\n",
    )
    .unwrap();
    let out = site.run(&["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "build says a page could not be made"
    );
    assert!(read(&site, "notes.html").contains("<p>v1 up</p>"));
    let status = site.status_json();
    let generated_at = status["generated_at"].as_str().unwrap();
    // (tasks.html carries no time, so it is not rewritten every cycle.)
    assert!(read(&site, "tasks.html").contains("Tasks are not configured on this host"));
    for page in ["index.html", "host.html"] {
        assert!(
            read(&site, page).contains(&format!("data-generated-at=\"{generated_at}\"")),
            "{page} was not rendered with the latest snapshot"
        );
    }
    let errors = status["errors"].to_string();
    let at = format!("{}:3:", notes.display());
    assert!(
        errors.contains(&at) && errors.contains("the last good notes.html stays"),
        "{errors}"
    );
    assert!(
        !read(&site, "index.html").contains("href=\"notes.html\""),
        "a broken page is not linked"
    );

    // `check` looks at custom pages too.
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&at), "{stderr}");
}

#[test]
fn a_page_that_only_fails_when_rendered_is_caught_by_check() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let pages = site.path("templates/pages");
    std::fs::create_dir_all(&pages).unwrap();
    std::fs::write(pages.join("odd.html"), "<p>{{ no_such_variable }}</p>\n").unwrap();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let file = pages.join("odd.html").display().to_string();
    assert!(
        stderr.contains(&format!("{file}: renders with an error"))
            && stderr.contains("no_such_variable"),
        "{stderr}"
    );
}

#[test]
fn an_unsafe_page_name_is_refused_with_a_clear_error() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let pages = site.path("templates/pages");
    std::fs::create_dir_all(&pages).unwrap();
    std::fs::write(pages.join("My Page.html"), "<p>hi</p>\n").unwrap();
    let out = site.run(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    let errors = site.status_json()["errors"].to_string();
    assert!(
        errors.contains("\\\"My Page\\\" cannot be a page name"),
        "{errors}"
    );
    assert!(!site.out().join("My Page.html").exists());
    assert!(
        site.out().join("index.html").is_file(),
        "the rest is published"
    );
}
