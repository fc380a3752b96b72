// Keyboard shortcuts for the moderators' review queue (/moderation).
// An enhancement only: every action is a plain form button that works without this script.
// j / k: next / previous report; c / d / a: confirm / debunk / archive the current report;
// x: select it for a batch action; u: undo the last debunk or archive (while it can be);
// ?: show or hide the list of shortcuts.
(function () {
  "use strict";
  var current = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-report-id]"));
  }

  function move(index) {
    var list = rows();
    if (!list.length) { return; }
    current = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (row, i) { row.classList.toggle("current", i === current); });
    list[current].focus();
    list[current].scrollIntoView({ block: "nearest" });
  }

  function currentRow() {
    return rows()[current] || null;
  }

  function act(action) {
    var row = currentRow();
    if (!row) { return; }
    var button = row.querySelector('button[name="action"][value="' + action + '"]');
    if (!button) { return; }
    if (button.form.requestSubmit) { button.form.requestSubmit(button); } else { button.click(); }
  }

  function toggleSelected() {
    var row = currentRow();
    var box = row && row.querySelector('input[type="checkbox"][name="ids"]');
    if (box) { box.checked = !box.checked; }
  }

  function undo() {
    var button = document.querySelector("form.undo button");
    if (!button) { return; }
    if (button.form.requestSubmit) { button.form.requestSubmit(button); } else { button.click(); }
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts");
    if (help) { help.open = !help.open; if (help.open) { help.scrollIntoView({ block: "nearest" }); } }
  }

  function typing(target) {
    if (!target || !target.closest) { return false; }
    if (target.closest("textarea, select, [contenteditable]")) { return true; }
    var input = target.closest("input");
    return !!input && input.type !== "checkbox" && input.type !== "radio";
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": move(current + 1); break;
      case "k": move(current - 1); break;
      case "c": act("confirm"); break;
      case "d": act("debunk"); break;
      case "a": act("archive"); break;
      case "x": toggleSelected(); break;
      case "u": undo(); break;
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // Clicking inside a report makes it the current one.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("[data-report-id]");
    if (row) {
      current = rows().indexOf(row);
      rows().forEach(function (r, i) { r.classList.toggle("current", i === current); });
    }
  });

  // After an action the page reloads: start on the first (most important) report.
  if (rows().length) { move(0); }
})();
