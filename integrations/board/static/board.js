// triagebot board: countdowns, live refresh (server-sent events) and buttons without reloads.
// Reads data only from data-* attributes and server-escaped HTML fragments; runs no data.
(function () {
  "use strict";
  var columns = document.getElementById("columns");
  var status = document.getElementById("status");
  if (!columns) { return; }
  var offset = Date.parse(columns.dataset.now) - Date.now();  // server clock minus ours

  function short(seconds) {
    var s = Math.round(Math.abs(seconds));
    if (s < 60) { return s + "s"; }
    var m = Math.floor(s / 60);
    if (m < 60) { return m + "m"; }
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 24) { return h + "h" + (m ? " " + (m < 10 ? "0" : "") + m + "m" : ""); }
    var d = Math.floor(h / 24); h = h % 24;
    return d + "d" + (h ? " " + (h < 10 ? "0" : "") + h + "h" : "");
  }

  function tick() {
    var now = Date.now() + offset;
    var clocks = columns.querySelectorAll(".clock[data-due]");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var due = Date.parse(el.dataset.due), remind = Date.parse(el.dataset.remind);
      var left = (due - now) / 1000;
      var state = now >= due ? "breached" : now >= remind ? "nearing" : "ok";
      el.querySelector(".left").textContent = left > 0 ? short(left) + " left" : short(left) + " over";
      el.querySelector(".label").textContent = state === "ok" ? "on time" : state;
      el.className = "clock sla-" + state;
    }
  }

  var pending = null, inflight = false, again = false;
  function refresh() {
    if (inflight) { again = true; return; }
    inflight = true;
    var active = document.activeElement;
    var focused = active && active.id;
    var card = active && active.closest ? active.closest("[data-case]") : null;
    var cardId = card && card.id;
    fetch("/board/columns" + window.location.search, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        var typed = keep();
        columns.innerHTML = html;
        restore(typed);
        var first = columns.querySelector("[data-now]");
        if (first) { offset = Date.parse(first.dataset.now) - Date.now(); }
        tick();
        var el = focused && document.getElementById(focused);
        if (!el && cardId) {
          var cardEl = document.getElementById(cardId);
          el = cardEl && (cardEl.querySelector(".actions button") || cardEl.querySelector("button"));
        }
        if (el) { el.focus(); }
        columns.dispatchEvent(new CustomEvent("board:refreshed", {bubbles: true}));
      })
      .catch(function () {})
      .then(function () {
        inflight = false;
        if (again) { again = false; soon(); }
      });
  }
  // What a person is writing in an answer form survives a live redraw: the texts typed and
  // which forms are open.
  function keep() {
    var typed = {values: {}, open: []};
    var fields = columns.querySelectorAll(".answer-form textarea[id], .answer-form input[id]");
    for (var i = 0; i < fields.length; i++) { typed.values[fields[i].id] = fields[i].value; }
    var open = columns.querySelectorAll("details[open][id]");
    for (var j = 0; j < open.length; j++) { typed.open.push(open[j].id); }
    return typed;
  }
  function restore(typed) {
    Object.keys(typed.values).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.closest(".answer-form")) { el.value = typed.values[id]; }
    });
    typed.open.forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.tagName === "DETAILS") { el.open = true; }
    });
  }

  // A card's "Thread" loads the case's public thread (a server-escaped fragment) when opened.
  function loadThread(details) {
    var box = details.querySelector(".thread-events-box");
    if (!box || !details.dataset.thread) { return; }
    fetch(details.dataset.thread, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () {});
  }
  columns.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.classList && details.classList.contains("thread") && details.open) {
      loadThread(details);
    }
  }, true);

  function soon() {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; refresh(); }, 250);
  }

  function say(text, refused) {
    status.textContent = text;
    status.classList.toggle("refused", !!refused);
  }

  columns.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("case-action")) { return; }
    event.preventDefault();
    var data = new FormData(form);
    var button = event.submitter;
    var url = (button && button.getAttribute("formaction")) || form.getAttribute("action");
    fetch(url, {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": data.get("csrf")}
    }).then(function (r) {
      return r.json().catch(function () { return {ok: false, message: "Refused (" + r.status + ")."}; });
    }).then(function (answer) {
      say(answer.message, !answer.ok);
      var error = form.querySelector(".form-error");
      if (error) { error.textContent = answer.ok ? "" : answer.message; }
      if (!answer.ok && form.classList.contains("answer-form")) { return; }  // keep the text
      if (form.classList.contains("answer-form")) {
        form.reset();
        var details = form.closest("details");
        if (details) { details.open = false; }
      }
      refresh();
    }).catch(function () { say("The board could not reach the server; try again.", true); });
  });

  if (window.EventSource) {
    var source = new EventSource("/board/events");
    source.onmessage = soon;
    source.onopen = function () { document.body.dataset.live = "yes"; };
  }
  setInterval(refresh, 20000);  // also catches changes another web process delivered
  setInterval(tick, 1000);
  tick();
})();
