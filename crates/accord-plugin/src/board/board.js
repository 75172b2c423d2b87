// The Accord board's only script, and only an enhancement: the pages work without it.
// The server sends `change` (server-sent events) when the data the caller can see
// changes; the page then fetches itself and swaps <main> in place, unless the person is
// filling in a form there (then it waits until they are done).
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var busy = false, again = false;

  function editing() {
    var active = document.activeElement;
    var form = active && active.closest ? active.closest("main form") : null;
    if (!form) { return false; }
    return Array.prototype.some.call(form.elements, function (e) {
      return e.type === "checkbox" ? e.checked : (e.type !== "hidden" && e.type !== "submit" && e.value);
    });
  }

  function refresh() {
    if (busy) { again = true; return; }
    if (editing()) { setTimeout(refresh, 2000); return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) { return; }
        var next = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        var current = document.querySelector("main");
        if (next && current && next.innerHTML !== current.innerHTML && !editing()) {
          current.replaceWith(document.importNode(next, true));
          var live = document.getElementById("live");
          if (live) { live.textContent = "Updated " + new Date().toLocaleTimeString(); }
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  new EventSource("/events").addEventListener("change", refresh);
})();
