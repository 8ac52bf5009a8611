/* twinadmin's page behaviour. The Content-Security-Policy runs no inline script or handler, so
   pages say what they want with data- attributes and this file, loaded on every page, acts on
   them by event delegation (also for fragments htmx swaps in later).

   data-confirm="question"   on a submit button or a form: ask before submitting.
   data-select-twins="all"   (or "none") on a button with aria-controls="an-id": tick (untick)
                             every checkbox inside that element.
   data-needs-js             on an element rendered hidden: shown once this script runs. */
(function () {
  "use strict";

  function confirmed(element) {
    var question = element && element.getAttribute("data-confirm");
    return !question || window.confirm(question);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (!confirmed(form) || (button && !confirmed(button))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-select-twins]");
    if (!button) return;
    var all = button.getAttribute("data-select-twins") === "all";
    var scope = document.getElementById(button.getAttribute("aria-controls") || "");
    if (!scope) return;
    scope.querySelectorAll("input[type=checkbox]").forEach(function (box) {
      if (!box.disabled) box.checked = all;
    });
  });

  function reveal(root) {
    root.querySelectorAll("[data-needs-js]").forEach(function (element) {
      element.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:load", function (event) { reveal(event.target); });
})();
