// Editable tables of the plan and rules pages: add, move and remove rows, and offer only the
// templates that fit a step's channel. The form posts every row as it stands; the server
// checks them. Without this script the pages still work (a spare row and Remove boxes).
(function () {
  "use strict";
  var made = 0;

  function rows(table) {
    return Array.prototype.slice.call(table.tBodies[0].querySelectorAll("tr[data-row]"));
  }

  function renumber(table) {
    rows(table).forEach(function (row, index) {
      var cell = row.querySelector("[data-number]");
      if (cell) cell.textContent = String(index + 1);
    });
  }

  function fitTemplates(table, row, keepChosen) {
    var channel = row.querySelector("[data-channel-select]");
    var select = row.querySelector("[data-template-select]");
    if (!channel || !select) return;
    var wanted = JSON.parse(table.dataset.templateChannels || "{}")[channel.value] || "";
    select.querySelectorAll("option[data-channel]").forEach(function (option) {
      option.hidden = option.dataset.channel !== wanted && !(keepChosen && option.selected);
    });
    select.querySelectorAll("optgroup").forEach(function (group) {
      group.hidden = !group.querySelector("option:not([hidden])");
    });
    var chosen = select.options[select.selectedIndex];
    if (chosen && chosen.hidden) select.value = "";
    select.disabled = false;
  }

  function enhance(table, row) {
    row.querySelectorAll("[data-js]").forEach(function (el) { el.hidden = false; });
    row.querySelectorAll("[data-nojs]").forEach(function (el) {
      el.hidden = true;
      el.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; });
    });
    fitTemplates(table, row, true);
  }

  function addRow(table) {
    var template = document.getElementById(table.dataset.rowTemplate);
    var holder = document.createElement("tbody");
    made += 1;
    holder.innerHTML = template.innerHTML.replace(/__ROW__/g, "new-" + Date.now() + "-" + made);
    var row = holder.querySelector("tr");
    table.tBodies[0].appendChild(row);
    enhance(table, row);
    renumber(table);
    var first = row.querySelector("input:not([type=hidden]), select");
    if (first) first.focus();
  }

  function onClick(table, event) {
    var button = event.target.closest("button");
    var row = button && button.closest("tr[data-row]");
    if (!row) return;
    if (button.hasAttribute("data-remove")) {
      row.remove();
    } else if (button.dataset.move === "up" && row.previousElementSibling) {
      row.parentNode.insertBefore(row, row.previousElementSibling);
    } else if (button.dataset.move === "down" && row.nextElementSibling) {
      row.parentNode.insertBefore(row.nextElementSibling, row);
    } else {
      return;
    }
    renumber(table);
  }

  document.querySelectorAll("table[data-rows]").forEach(function (table) {
    table.tBodies[0].querySelectorAll("tr[data-spare]").forEach(function (row) { row.remove(); });
    rows(table).forEach(function (row) { enhance(table, row); });
    renumber(table);
    table.addEventListener("click", function (event) { onClick(table, event); });
    table.addEventListener("change", function (event) {
      if (event.target.matches("[data-channel-select]")) {
        fitTemplates(table, event.target.closest("tr"), false);
      }
    });
  });
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    var table = document.getElementById(button.dataset.addRow);
    button.hidden = false;
    button.addEventListener("click", function () { addRow(table); });
  });
  document.querySelectorAll("[data-nojs]").forEach(function (el) {
    if (!el.closest("tr")) el.hidden = true;
  });
})();
