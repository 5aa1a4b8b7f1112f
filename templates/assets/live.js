// live.js: keeps a status page current in place, for a page left open on a second screen.
//
// One renderer: every figure is formatted by the server's templates, never here. When
// status.json changes, this script fetches the page's own HTML again and swaps in each element
// marked data-live (matched by id) whose markup differs; it formats nothing but "N s ago".
//  - status.json is polled every max(interval, 2 s), at most 60 s, with the ETag/Last-Modified
//    kept here and sent as If-None-Match/If-Modified-Since with cache "no-store": an unchanged
//    feed costs a 304 with no body, and the script knows it is unchanged. The page is fetched
//    the same way, only when the feed is newer than what is on screen.
//  - Status changes (old and new feed compared) are announced in #live-announce (aria-live).
//  - #updated-ago ticks every second; #stale says when the data on screen is older than three
//    intervals or the server cannot be reached. Ages use the server's clock (Date header).
//  - One timer (a one-second tick that also starts the poll when due), one request at a time;
//    nothing while the tab is hidden, a poll at once when it is shown again.
// Any page with data-live regions can include it. Without JavaScript the page is complete and
// refreshes itself (<noscript> meta refresh).
(function () {
  "use strict";
  var root = document.documentElement;
  var interval = 1000 * Number(root.getAttribute("data-interval")) || 5000;
  var shown = Date.parse(root.getAttribute("data-generated-at")); // the data on screen
  var feedState = {}, pageState = {}; // validators: {etag, modified}
  var feed = null;     // the last status.json read
  var markup = {};     // id -> the HTML last put in that region
  var skew = 0;        // server clock minus ours, ms
  var problem = "";    // why the last poll failed
  var failures = 0, due = 0, timer = null, busy = null, stale = "";

  function $(id) { return document.getElementById(id); }
  function pace() { return Math.min(Math.max(interval, 2000), 60000); }
  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000)), m = Math.round(s / 60), h = Math.round(m / 60);
    return s < 90 ? s + " s" : m < 90 ? m + " min" : h < 36 ? h + " h" : Math.round(h / 24) + " days";
  }
  function say(text) {
    var a = $("live-announce");
    if (a && text) a.textContent = text;
  }
  var regions = document.querySelectorAll("[data-live][id]");
  for (var i = 0; i < regions.length; i++) markup[regions[i].id] = regions[i].outerHTML;

  function tick() {
    var age = Date.now() + skew - shown, text = "";
    var el = $("updated-ago");
    if (el && age >= 0) { el.textContent = ago(age) + " ago, at"; el.hidden = false; }
    if (problem) {
      text = problem + "; the data below is from " + new Date(shown).toISOString().slice(11, 19) +
        " UTC, " + ago(age) + " ago.";
    } else if (age > 3 * Math.max(interval, pace())) {
      text = "This data is " + ago(age) + " old: the status generator may have stopped.";
    }
    var banner = $("stale");
    if (banner) { banner.textContent = text; banner.hidden = !text; }
    // The banner's text changes every second: announce when it appears, not each change.
    var kind = problem ? "gone" : text ? "old" : "";
    if (kind !== stale) { stale = kind; say(text); }
    if (busy && Date.now() - busy.at > 20000) busy.abort.abort();
    if (!busy && !document.hidden && Date.now() >= due) poll();
  }

  // GET with our own validators; resolves to null for 304 (unchanged), else the Response.
  function get(url, state, signal) {
    var headers = {};
    if (state.etag) headers["If-None-Match"] = state.etag;
    if (state.modified) headers["If-Modified-Since"] = state.modified;
    return fetch(url, { headers: headers, cache: "no-store", signal: signal }).then(function (r) {
      var date = Date.parse(r.headers.get("Date"));
      // Date has whole seconds: ignore a skew within that, so "N s ago" does not jitter.
      if (date) { var d = date + 500 - Date.now(); skew = Math.abs(d) < 1500 ? 0 : d; }
      if (r.status === 304) return null;
      if (!r.ok) throw new Error("The server answered " + r.status + " for " + url);
      state.etag = r.headers.get("ETag");
      state.modified = r.headers.get("Last-Modified");
      return r;
    });
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelectorAll("[data-live][id]");
    for (var i = 0; i < fresh.length; i++) {
      var n = fresh[i], old = $(n.id);
      if (!old || markup[n.id] === n.outerHTML) continue;
      markup[n.id] = n.outerHTML;
      old.replaceWith(document.importNode(n, true));
    }
    var t = Date.parse(doc.documentElement.getAttribute("data-generated-at"));
    if (t) shown = t;
    if (doc.title) document.title = doc.title;
  }

  function announce(before, after) {
    if (!before) return;
    var was = {}, said = [];
    before.services.forEach(function (s) { was[s.slug] = s.status; });
    after.services.forEach(function (s) {
      if (was[s.slug] && was[s.slug] !== s.status) said.push(s.name + " is now " + s.status);
    });
    say(said.join(". "));
  }

  function poll() {
    var abort = new AbortController();
    busy = { at: Date.now(), abort: abort };
    get("status.json", feedState, abort.signal).then(function (r) {
      return r && r.json().then(function (next) {
        if (next.interval_seconds > 0) interval = 1000 * next.interval_seconds;
        var page = Date.parse(next.generated_at) > shown &&
          get(location.pathname + location.search, pageState, abort.signal).then(function (p) {
            return p && p.text().then(swap);
          });
        return Promise.resolve(page).then(function () { announce(feed, next); feed = next; });
      });
    }).then(function () {
      problem = ""; failures = 0;
    }, function (e) {
      problem = /answered/.test(e.message) ? e.message : "Cannot reach the server";
      failures++;
    }).then(function () {
      busy = null;
      due = Date.now() + Math.min(pace() * Math.pow(2, Math.min(failures, 4)), Math.max(pace(), 30000));
      tick();
    });
  }

  function start() { if (!timer) timer = setInterval(tick, 1000); tick(); }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { clearInterval(timer); timer = null; } else { due = 0; start(); }
  });
  if (!document.hidden) start();
})();
