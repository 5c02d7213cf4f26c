/* karafkad console: on the overview, fetch the page again every few seconds and swap in the parts marked
   data-swap (no flicker, the scroll position stays); say how old the numbers are, and when the daemon stops
   answering. On every page: ask before a form marked data-confirm is sent, and let "select all" tick the
   dead letters shown. Without JavaScript a <noscript> meta refresh reloads the overview instead, and every
   form still works. Loaded from /static/ (the Content-Security-Policy allows no inline script). */
(function () {
  "use strict";
  var root = document.documentElement;
  var every = Number(root.getAttribute("data-refresh")) * 1000;
  var live = document.getElementById("live");
  var text = live && live.querySelector(".text");
  var received = Date.now();
  var failures = 0;
  var timer = null;
  var busy = false;

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  function show() {
    if (!live) return;
    var age = Math.max(0, Math.round((Date.now() - received) / 1000));
    live.className = "live" + (failures ? " offline" : "");
    root.classList.toggle("stale", failures > 0);
    text.textContent = failures
      ? "not answering · last update " + age + " s ago"
      : (every ? "live" : "as of") + " · updated " + (age < 2 ? "just now" : age + " s ago");
  }

  function swap(doc) {
    var parts = document.querySelectorAll("[data-swap]");
    for (var i = 0; i < parts.length; i++) {
      var fresh = doc.getElementById(parts[i].id);
      if (fresh) parts[i].replaceWith(document.importNode(fresh, true));
    }
    document.title = doc.title;
    root.setAttribute("data-generated", doc.documentElement.getAttribute("data-generated") || "");
  }

  function refresh() {
    if (busy) return;
    if (document.hidden) {
      schedule(every);
      return;
    }
    busy = true;
    fetch(location.pathname + location.search, { cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (body) {
        swap(new DOMParser().parseFromString(body, "text/html"));
        received = Date.now();
        failures = 0;
      })
      .catch(function () {
        failures += 1;
      })
      .then(function () {
        busy = false;
        show();
        schedule(every);
      });
  }

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (!all.matches || !all.matches("input[data-select-all]")) return;
    var boxes = document.querySelectorAll("input[name='" + all.getAttribute("data-select-all") + "']");
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
  });

  show();
  setInterval(show, 1000);
  if (every > 0) {
    schedule(every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() - received > every) refresh();
    });
  }
})();
