// Live response clocks and the queue's select-all box. No dependencies.
(function () {
  "use strict";
  function format(seconds) {
    var minutes = Math.max(0, Math.floor(seconds / 60));
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + String(minutes % 60).padStart(2, "0") + " min";
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }
  function tick() {
    document.querySelectorAll(".clock[data-since]").forEach(function (el) {
      var seconds = (Date.now() - Date.parse(el.dataset.since)) / 1000;
      el.textContent = (el.textContent.indexOf("waiting") === 0 ? "waiting " : "") + format(seconds);
      el.classList.toggle("late", seconds > 15 * 60);
    });
  }
  tick();
  setInterval(tick, 15000);
  // On a phone the filters fold away unless some are in use, so the first lead is in view.
  var folding = document.querySelector("details[data-fold-on-phone]");
  if (folding && window.matchMedia("(max-width: 720px)").matches) folding.open = false;
  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=lead_ids]").forEach(function (box) { box.checked = all.checked; });
    });
  }
})();
