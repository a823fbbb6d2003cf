/* The field-mapping editor: add and remove rows (cloning a template row), swap a row's argument
   form when its transform changes, and check the rows as they are edited (POST to the check URL,
   problems shown beside the row or argument that caused them). Vanilla JS, no library. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var form = document.getElementById("mapping-form");
    if (!form) return;
    var rows = document.getElementById("mapping-rows");
    var emptyNote = document.getElementById("no-rows");
    var timer = null;

    function fromTemplate(id, key) {
      var template = document.getElementById(id);
      if (!template) return null;
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.split("__prefix__").join(key);
      return holder;
    }

    function nextKey() {
      var highest = -1;
      rows.querySelectorAll(".me-row").forEach(function (row) {
        var key = parseInt(row.dataset.key, 10);
        if (!isNaN(key) && key > highest) highest = key;
      });
      return String(highest + 1);
    }

    function refreshEmpty() {
      if (emptyNote) emptyNote.hidden = rows.querySelector(".me-row") !== null;
    }

    var add = document.getElementById("add-row");
    if (add) {
      add.addEventListener("click", function () {
        var holder = fromTemplate("row-template", nextKey());
        var row = holder.firstElementChild;
        rows.appendChild(row);
        refreshEmpty();
        var first = row.querySelector("input[type=text]");
        if (first) first.focus();
      });
    }

    rows.addEventListener("click", function (event) {
      var button = event.target.closest(".me-remove-row");
      if (!button) return;
      button.closest(".me-row").remove();
      refreshEmpty();
      scheduleCheck();
    });

    rows.addEventListener("change", function (event) {
      if (!event.target.classList.contains("me-transform-select")) return;
      var row = event.target.closest(".me-row");
      var args = row.querySelector(".me-args");
      var holder = event.target.value ? fromTemplate("args-" + event.target.value, row.dataset.key) : null;
      args.innerHTML = holder ? holder.innerHTML : "";
    });

    function show(list, messages) {
      list.innerHTML = "";
      (messages || []).forEach(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      });
    }

    function render(result) {
      rows.querySelectorAll(".me-row").forEach(function (row) {
        var found = result.rows[row.dataset.key] || { errors: [], args: {} };
        show(row.querySelector(".me-row-errors"), found.errors);
        row.querySelectorAll(".me-arg").forEach(function (arg) {
          show(arg.querySelector(".me-arg-errors"), found.args[arg.dataset.arg]);
          arg.classList.toggle("has-errors", Boolean(found.args[arg.dataset.arg]));
        });
        row.classList.toggle("has-errors", Boolean(result.rows[row.dataset.key]));
      });
      form.dataset.valid = result.ok ? "yes" : "no";
    }

    function check() {
      var data = new FormData(form);
      fetch(form.dataset.checkUrl, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (result) { if (result) render(result); })
        .catch(function () { /* the server checks again on Preview and Save */ });
    }

    function scheduleCheck() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, 400);
    }

    form.addEventListener("change", scheduleCheck);
    form.addEventListener("input", function (event) {
      if (event.target.matches("textarea, input[type=text], input[type=number]")) scheduleCheck();
    });

    document.querySelectorAll("form[data-confirm]").forEach(function (other) {
      other.addEventListener("submit", function (event) {
        if (!window.confirm(other.dataset.confirm)) event.preventDefault();
      });
    });
  });
})();
