// live.js keeps the status page current in place; the design is in README, "How the page
// stays fresh". One renderer: when status.json changes, the page is fetched again and each
// changed [data-live] element swapped in, so figures are formatted only by the templates.
(function () {
  "use strict";
  var root = document.documentElement;
  var interval = 1000 * root.getAttribute("data-interval") || 5000;
  var shown = Date.parse(root.getAttribute("data-generated-at")); // the data on screen
  var feedV = {}, pageV = {}, feed = null, markup = {}, skew = 0, problem = "", failures = 0;
  var due = 0, timer = null, busy = null, stale = "";

  function $(id) { return document.getElementById(id); }
  function pace() { return Math.min(Math.max(interval, 2000), 60000); }
  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000)), m = Math.round(s / 60), h = Math.round(m / 60);
    return s < 90 ? s + " s" : m < 90 ? m + " min" : h < 36 ? h + " h" : Math.round(h / 24) + " days";
  }
  function say(text) { if (text && $("live-announce")) $("live-announce").textContent = text; }
  [].forEach.call(document.querySelectorAll("[data-live][id]"), function (e) { markup[e.id] = e.outerHTML; });

  function tick() {
    var age = Date.now() + skew - shown, text = "", el = $("updated-ago"), banner = $("stale");
    if (el && age >= 0) { el.textContent = ago(age) + " ago, at"; el.hidden = false; }
    if (problem) {
      text = problem + (shown ? "; the data below is from " +
        new Date(shown).toISOString().slice(11, 19) + " UTC, " + ago(age) + " ago." : ".");
    } else if (age > 3 * Math.max(interval, pace())) {
      text = "This data is " + ago(age) + " old: the status generator may have stopped.";
    }
    if (banner) { banner.textContent = text; banner.hidden = !text; }
    // The text changes every second: announce the banner when it appears, not each change.
    var kind = problem ? "gone" : text ? "old" : "";
    if (kind !== stale) { stale = kind; say(text); }
    if (busy && Date.now() - busy.at > 20000) busy.ctl.abort();
    if (!busy && !document.hidden && Date.now() >= due) poll();
  }

  // Resolves to null for 304 (unchanged), else the Response.
  function get(url, v) {
    var h = {};
    if (v.etag) h["If-None-Match"] = v.etag;
    if (v.date) h["If-Modified-Since"] = v.date;
    return fetch(url, { headers: h, cache: "no-store", signal: busy.ctl.signal }).then(function (r) {
      // Ages count by the server's clock; Date has whole seconds, so a smaller skew is noise.
      var d = Date.parse(r.headers.get("Date")) + 500 - Date.now();
      if (!isNaN(d)) skew = Math.abs(d) < 1500 ? 0 : d;
      if (r.status === 304) return null;
      if (!r.ok) throw new Error("The server answered " + r.status + " for " + url);
      v.etag = r.headers.get("ETag");
      v.date = r.headers.get("Last-Modified");
      return r;
    });
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html"), open = {};
    // A service's details the reader opened stay open across the swap.
    [].forEach.call(document.querySelectorAll("details[open][id]"), function (d) { open[d.id] = 1; });
    [].forEach.call(doc.querySelectorAll("[data-live][id]"), function (n) {
      var old = $(n.id);
      if (!old || markup[n.id] === n.outerHTML) return;
      markup[n.id] = n.outerHTML;
      old.replaceWith(document.importNode(n, true));
    });
    for (var id in open) if ($(id)) $(id).open = true;
    shown = Date.parse(doc.documentElement.getAttribute("data-generated-at")) || shown;
    document.title = doc.title || document.title;
  }

  function announce(before, after) {
    var was = {};
    if (!before) return;
    before.services.forEach(function (s) { was[s.slug] = s.status; });
    say(after.services.filter(function (s) { return was[s.slug] && was[s.slug] !== s.status; })
      .map(function (s) { return s.name + " is now " + s.status; }).join(". "));
  }

  function poll() {
    busy = { at: Date.now(), ctl: new AbortController() };
    get("status.json", feedV).then(function (r) {
      return r && r.json().then(function (next) {
        if (next.interval_seconds > 0) interval = 1000 * next.interval_seconds;
        var page = Date.parse(next.generated_at) > shown &&
          get(location.pathname + location.search, pageV).then(function (p) { return p && p.text().then(swap); });
        return Promise.resolve(page).then(function () { announce(feed, next); feed = next; });
      });
    }).then(function () {
      problem = ""; failures = 0;
    }, function (e) {
      problem = /answered/.test(e.message) ? e.message : "Cannot reach the server";
      failures++;
    }).then(function () {
      busy = null;
      due = Date.now() + Math.min(pace() << Math.min(failures, 4), Math.max(pace(), 30000));
      tick();
    });
  }

  function start() { if (!timer) timer = setInterval(tick, 1000); tick(); }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { clearInterval(timer); timer = null; } else { due = 0; start(); }
  });
  if (!document.hidden) start();
})();
