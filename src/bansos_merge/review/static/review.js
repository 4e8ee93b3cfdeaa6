// Keyboard shortcuts on an item page: S same person, D different people, U not sure,
// N next item, C comment. Ignored while typing in a field (Escape leaves the field).
(function () {
  "use strict";
  var decisions = { s: "same", d: "different", u: "unsure" };
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    var target = e.target;
    var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" ||
      target.tagName === "SELECT" || target.isContentEditable);
    if (typing) {
      if (e.key === "Escape") target.blur();
      return;
    }
    var key = (e.key || "").toLowerCase();
    if (decisions[key]) {
      var button = document.querySelector('button[data-decision="' + decisions[key] + '"]');
      if (button) { e.preventDefault(); button.click(); }
    } else if (key === "n") {
      var next = document.getElementById("next-link");
      if (next) { e.preventDefault(); window.location.assign(next.href); }
    } else if (key === "c") {
      var comment = document.getElementById("comment");
      if (comment) { e.preventDefault(); comment.focus(); }
    }
  });
  // A decision form is sent once: a second key press while the page loads does nothing.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
  });
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.forms, function (f) { delete f.dataset.sent; });
  });
})();
