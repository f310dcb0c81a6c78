/* The leaderboard site's only script: sortable columns and the entry filter. Plain JavaScript,
   no dependencies; the page is complete without it (a table in board order).

   Sorting: every <th data-sort> of a table[data-sortable] gets a <button>; a click (or Enter /
   Space, which a button handles natively) sorts by that column's cells' data-value, first in the
   column's data-first direction (default ascending), then the other way. aria-sort is kept on
   the sorted column only, and a status line says what happened. Ties keep board order.
   Filtering: rows and items with data-entry whose table row's data-search does not contain the
   typed text are hidden (tables, team histories) or dimmed (chart lines, legend). */
(function () {
  "use strict";

  function value(row, column, kind) {
    var cell = row.children[column];
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (raw === null || raw === "") { return null; }
    return kind === "number" ? Number(raw) : raw;
  }

  function compare(a, b, kind) {
    if (kind === "number") { return a - b; }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function sortRows(table, column, kind, direction) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (ra, rb) {
      var a = value(ra, column, kind), b = value(rb, column, kind);
      if (a === null || b === null) {
        if (a !== b) { return a === null ? 1 : -1; }  /* missing values last, either way */
      } else {
        var order = compare(a, b, kind);
        if (order !== 0) { return direction === "ascending" ? order : -order; }
      }
      return Number(ra.getAttribute("data-entry")) - Number(rb.getAttribute("data-entry"));
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function setUpSorting(table, status) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, column) {
      var kind = th.getAttribute("data-sort");
      if (!kind) { return; }
      var label = th.textContent;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      var arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.setAttribute("aria-hidden", "true");
      button.appendChild(arrow);
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var first = th.getAttribute("data-first") || "ascending";
        var direction = current === null ? first
          : current === "ascending" ? "descending" : "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", direction);
        sortRows(table, column, kind, direction);
        if (status) { status.textContent = "Sorted by " + label + ", " + direction + "."; }
      });
    });
  }

  function setUpFilter(input, status, total) {
    function apply() {
      var needle = input.value.trim().toLowerCase();
      var shown = {};
      var count = 0;
      document.querySelectorAll("table.board tbody tr[data-entry]").forEach(function (row) {
        var hit = (row.getAttribute("data-search") || "").toLowerCase().indexOf(needle) !== -1;
        row.hidden = !hit;
        shown[row.getAttribute("data-entry")] = hit;
        if (hit) { count += 1; }
      });
      document.querySelectorAll("[data-entry]").forEach(function (el) {
        if (el.matches("table.board tr")) { return; }
        var hit = shown[el.getAttribute("data-entry")] !== false;
        if (el.matches("tr, .histories > li")) { el.hidden = !hit; }
        else { el.classList.toggle("dimmed", !hit); }
      });
      status.textContent = count === 0
        ? "No entry matches \u201c" + input.value.trim() + "\u201d (" + total + " entries in all)"
        : "Showing " + count + " of " + total + " entries";
    }
    input.addEventListener("input", apply);
    apply();
  }

  function setUpHighlight() {
    var chart = document.querySelector(".rank-chart");
    if (!chart) { return; }
    document.querySelectorAll(".legend li[data-entry]").forEach(function (item) {
      var entry = item.getAttribute("data-entry");
      var line = chart.querySelector('.series[data-entry="' + entry + '"]');
      if (!line) { return; }
      function on() { chart.classList.add("highlighting"); line.classList.add("highlight"); }
      function off() { chart.classList.remove("highlighting"); line.classList.remove("highlight"); }
      item.addEventListener("mouseenter", on);
      item.addEventListener("mouseleave", off);
      item.addEventListener("focusin", on);
      item.addEventListener("focusout", off);
    });
  }

  /* A link to a team's history (#team-N) opens it. */
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    var details = target ? target.querySelector("details") : null;
    if (details) { details.open = true; }
  }

  function start() {
    window.addEventListener("hashchange", openTarget);
    openTarget();
    var controls = document.querySelector("[data-controls]");
    var status = document.getElementById("filter-status");
    var sortStatus = document.getElementById("sort-status");
    document.querySelectorAll("table[data-sortable]").forEach(function (table) {
      setUpSorting(table, sortStatus);
    });
    var input = document.getElementById("filter");
    if (controls && input && status) {
      controls.hidden = false;
      var total = document.querySelectorAll("table.board tbody tr[data-entry]").length;
      setUpFilter(input, status, total);
    }
    setUpHighlight();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
