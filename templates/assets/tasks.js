// The task form: send a prompt to Symbiont through /api/tasks, then follow the task until it
// ends. No framework and no storage: the password lives in this page's memory only (never in
// the address, a cookie or localStorage). Every failure is shown in #form-error; the button
// never silently does nothing.
(function () {
  "use strict";
  var form = document.getElementById("task-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var password = $("password"), prompt = $("prompt"), submit = $("submit"), busyNote = $("busy");
  var error = $("form-error"), task = $("task");
  var terminal = (form.getAttribute("data-terminal") || "completed failed").split(/\s+/).filter(Boolean);
  var api = form.getAttribute("action");
  var secret = "";      // the password, once accepted for a submission
  var current = null;   // the id of the task being followed
  var finished = false; // whether it reached a terminal status
  var timer = null;     // the one poll timer
  var polling = false;  // a poll request is in flight
  var sending = false;  // a submission is in flight

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  function setBusy(on) {
    sending = on;
    submit.disabled = on;
    busyNote.hidden = !on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  // One call to the endpoint. Resolves with its JSON; rejects with an Error whose message is
  // the endpoint's own words (it always says what went wrong) and whose .status is the HTTP one.
  function call(method, url, body) {
    var headers = { "Authorization": "Bearer " + secret, "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method: method, headers: headers, body: body, cache: "no-store", credentials: "omit" })
      .catch(function (e) {
        var err = new Error("the status server cannot be reached (" + e.message + ")");
        err.status = 0;
        throw err;
      })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (data) {
          if (response.ok && data) return data;
          var message = data && data.error ? data.error : "the server answered HTTP " + response.status;
          var err = new Error(message);
          err.status = response.status;
          if (response.status === 429) {
            var wait = response.headers.get("Retry-After");
            if (wait && message.indexOf("try again") < 0) err.message += " (try again in " + wait + " s)";
          }
          throw err;
        });
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return;
    showError("");
    if (!password.value) { showError("Type the password first."); password.focus(); return; }
    if (!prompt.value.trim()) { showError("Type a prompt to send."); prompt.focus(); return; }
    secret = password.value;
    setBusy(true);
    call("POST", api, JSON.stringify({ prompt: prompt.value }))
      .then(function (data) { follow(String(data.task_id)); })
      .catch(function (e) {
        showError(e.message);
        if (e.status === 401) { secret = ""; password.focus(); password.select(); }
      })
      .then(function () { setBusy(false); });
  });

  // Ctrl+Enter (Cmd+Enter) in the prompt sends the form; Enter alone is a new line.
  prompt.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else submit.click();
    }
  });

  function follow(id) {
    current = id;
    finished = false;
    task.hidden = false;
    $("task-id").textContent = id;
    $("task-status").textContent = "submitted";
    $("task-progress").textContent = "";
    $("task-result").textContent = "";
    schedule(0);
  }

  // Never two timers, never two polls at once.
  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function poll() {
    timer = null;
    if (!current || finished || polling || document.hidden) return;
    var id = current;
    polling = true;
    call("GET", api + "/" + encodeURIComponent(id))
      .then(function (data) {
        if (id !== current) return;
        showError("");
        show(data);
        if (terminal.indexOf(data.status) >= 0) {
          finished = true;
          if (data.status === "failed") {
            showError("The task failed" + (data.error ? ": " + data.error : "."));
          }
        }
      })
      .catch(function (e) {
        if (id !== current) return;
        // Keep trying through a transient failure, and say so; a wrong password will not mend.
        if (e.status === 401) {
          finished = true;
          showError(e.message);
        } else {
          showError("Cannot check the task right now, still trying: " + e.message);
        }
      })
      .then(function () {
        polling = false;
        if (id === current && !finished) schedule(1000);
      });
  }

  function show(data) {
    $("task-status").textContent = data.status || "unknown";
    var p = data.progress;
    $("task-progress").textContent =
      typeof p === "number" ? Math.round(p <= 1 ? p * 100 : p) + "%" : (p === undefined || p === null ? "" : String(p));
    var r = data.result !== undefined ? data.result : data.output;
    $("task-result").textContent =
      r === undefined || r === null ? "" : typeof r === "string" ? r : JSON.stringify(r, null, 2);
  }

  // Stop while the tab is hidden or the page is left; catch up at once when shown again.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { clearTimeout(timer); timer = null; }
    else if (current && !finished && !polling) schedule(0);
  });
  window.addEventListener("pagehide", function () { clearTimeout(timer); timer = null; });
})();
