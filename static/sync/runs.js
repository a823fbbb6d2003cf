/* The run page updates itself while the run is active: every second it fetches the page's live
   fragment (sync/admin_runs.py, _run_live.html) and swaps it in; it stops once the run has finished,
   leaving the final state and the record errors on screen. No reload, no library. */
(function () {
  "use strict";
  var INTERVAL = 1000;
  var RETRY_AFTER_ERROR = 3000;

  function watch(box) {
    var url = box.getAttribute("data-url");
    function schedule(delay) { window.setTimeout(poll, delay); }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          box.innerHTML = html;
          var panel = box.querySelector(".run-panel");
          var active = panel && panel.getAttribute("data-active") === "1";
          box.setAttribute("data-active", active ? "1" : "0");
          if (panel && panel.getAttribute("data-title")) {
            document.title = panel.getAttribute("data-title");
          }
          if (active) { schedule(INTERVAL); }
        })
        .catch(function () { schedule(RETRY_AFTER_ERROR); });
    }
    if (box.getAttribute("data-active") === "1") { schedule(INTERVAL); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("run-live");
    if (box) { watch(box); }
  });
})();
