// Keyboard shortcuts on an item page. A pair: S same person, D different people, U not sure.
// A group: 1-9 put the selected record in that person and select the next one, 0 not sure
// about it, S save the grouping, U not sure about the whole group. Both: N next item,
// C comment. Ignored while typing in a field (Escape leaves the field); a focused radio
// button is not typing, so the keys work while moving through the group's choices.
(function () {
  "use strict";
  var group = document.getElementById("group-form");
  var current = 0; // the selected record of a group (its column)

  function radios(record) {
    return document.querySelectorAll('input[type=radio][data-record="' + record + '"]');
  }

  function select(record) {
    current = record;
    Array.prototype.forEach.call(document.querySelectorAll("[data-col]"), function (el) {
      el.classList.toggle("col-current", el.getAttribute("data-col") === String(record));
    });
  }

  function showPerson(record) {
    var chosen = document.querySelector('input[type=radio][data-record="' + record + '"]:checked');
    var chip = document.querySelector('[data-chip="' + record + '"]');
    if (!chosen || !chip) return;
    chip.className = "person-chip p" + chosen.value;
    chip.textContent = chosen.getAttribute("data-label");
  }

  function assign(value) {
    var n = Number(group.getAttribute("data-records"));
    var choice = Array.prototype.find.call(radios(current), function (r) { return r.value === value; });
    if (!choice) return false;
    choice.checked = true;
    showPerson(current);
    var next = (current + 1) % n;
    select(next);
    var checked = document.querySelector('input[type=radio][data-record="' + next + '"]:checked') || radios(next)[0];
    if (checked) checked.focus({ preventScroll: true });
    return true;
  }

  if (group) {
    select(0);
    document.addEventListener("change", function (e) {
      var record = e.target.getAttribute && e.target.getAttribute("data-record");
      if (record !== null && record !== undefined) showPerson(record);
    });
    document.addEventListener("focusin", function (e) {
      var record = e.target.getAttribute && e.target.getAttribute("data-record");
      if (record !== null && record !== undefined) select(Number(record));
    });
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    var target = e.target;
    var choosing = target && target.tagName === "INPUT" && (target.type === "radio" || target.type === "checkbox");
    var typing = target && !choosing && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" ||
      target.tagName === "SELECT" || target.isContentEditable);
    if (typing) {
      if (e.key === "Escape") target.blur();
      return;
    }
    var key = (e.key || "").toLowerCase();
    if (group && /^[0-9]$/.test(key)) {
      if (assign(key === "0" ? "unsure" : key)) e.preventDefault();
      return;
    }
    var button = key.length === 1 && /^[a-z]$/.test(key) ? document.querySelector('button[data-key="' + key + '"]') : null;
    if (button) {
      e.preventDefault();
      button.click();
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
