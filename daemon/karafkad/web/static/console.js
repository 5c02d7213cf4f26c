/* karafkad status page: fetch the page again every few seconds and swap in the
   parts marked data-swap (no flicker, the scroll position stays); say how old
   the numbers are, and when the daemon stops answering. Without JavaScript a
   <noscript> meta refresh reloads the whole page instead. */
(function () {
  "use strict";
  var root = document.documentElement;
  var every = (Number(root.getAttribute("data-refresh")) || 5) * 1000;
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
      : "live · updated " + (age < 2 ? "just now" : age + " s ago");
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
    fetch(location.pathname, { cache: "no-store", headers: { Accept: "text/html" } })
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

  show();
  setInterval(show, 1000);
  schedule(every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && Date.now() - received > every) refresh();
  });
})();
