//! Change without restart: template and config edits go live at once; broken edits keep the
//! last good page and config, with the problem (file and line) in `errors` and the log.

use crate::common::peer::{Behaviour, Peer};
use crate::common::{Daemon, Site};
use std::time::Duration;

/// Waits until `done` holds; on failure the message carries the daemon's log.
fn wait_until(daemon: &Daemon, timeout: Duration, what: &str, done: impl FnMut() -> bool) {
    let what = format!(
        "{what}; the daemon's log:
{}",
        daemon.log()
    );
    crate::common::wait_until(&what, timeout, done);
}

fn page(site: &Site) -> String {
    std::fs::read_to_string(site.out().join("index.html")).unwrap_or_default()
}

#[test]
fn a_template_edit_is_live_without_a_probe_and_a_broken_one_keeps_the_last_good_page() {
    let site = Site::new("interval = \"1h\"\ntemplates_dir = \"templates\"\n");
    std::fs::create_dir(site.path("templates")).unwrap();
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert!(page(&site).contains("Host"));

    let index = site.path("templates/index.html");
    std::fs::write(
        &index,
        "{% extends \"base.html\" %}{% block main %}<p>edited {{ overall }}</p>{% endblock main %}\n",
    )
    .unwrap();
    wait_until(
        &daemon,
        Duration::from_secs(10),
        "the edit going live",
        || page(&site).contains("<p>edited up</p>"),
    );
    assert_eq!(daemon.health()["cycles"], 1, "re-rendered, not re-probed");

    // A broken edit: the page keeps the last good template, the problem is in errors and log.
    std::fs::write(
        &index,
        "{% extends \"base.html\" %}\n{% block main %}{% if %}\n",
    )
    .unwrap();
    wait_until(
        &daemon,
        Duration::from_secs(10),
        "the problem being reported",
        || site.errors().iter().any(|e| e.contains("index.html:2")),
    );
    assert!(
        page(&site).contains("<p>edited up</p>"),
        "the last good page stays"
    );
    // Logged just after the publish that reported it.
    daemon.wait_for_log("index.html:2", Duration::from_secs(10));

    // Fixed again: the problem goes away.
    std::fs::write(
        &index,
        "{% extends \"base.html\" %}{% block main %}<p>fixed</p>{% endblock main %}\n",
    )
    .unwrap();
    wait_until(
        &daemon,
        Duration::from_secs(10),
        "the fix going live",
        || page(&site).contains("<p>fixed</p>") && site.errors().is_empty(),
    );
}

#[test]
fn a_config_edit_reloads_services_and_a_broken_one_keeps_the_last_good_config() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new("interval = \"1h\"\ntitle = \"Before\"\n");
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert!(
        site.status_json()["services"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let good = format!(
        "out_dir = \"public\"\nstate_dir = \"state\"\ninterval = \"1h\"\ntitle = \"After\"\n\
         [[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"{}\"\n\
         [api]\nlisten = \"{}\"\n",
        peer.url("/"),
        daemon.addr()
    );
    // Written beside and renamed over, as editors save.
    std::fs::write(site.path("new.toml"), &good).unwrap();
    std::fs::rename(site.path("new.toml"), site.config()).unwrap();
    wait_until(&daemon, Duration::from_secs(10), "the new service", || {
        let s = site.status_json();
        s["services"][0]["slug"] == "web" && s["services"][0]["status"] == "up"
    });
    assert!(page(&site).contains("After"), "settings reloaded too");
    assert!(peer.hits() >= 1);

    // A typo: the running config stays, the error names file, line and key.
    std::fs::write(
        site.config(),
        good.replace("kind = \"http\"", "kind = \"htp\""),
    )
    .unwrap();
    wait_until(&daemon, Duration::from_secs(10), "the config error", || {
        site.errors()
            .iter()
            .any(|e| e.contains("cortex-status.toml:7") && e.contains("service[0].kind"))
    });
    let status = site.status_json();
    assert_eq!(
        status["services"][0]["slug"], "web",
        "the last good config stays"
    );
    daemon.wait_for_log("service[0].kind", Duration::from_secs(10));
}
