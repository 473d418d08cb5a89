// The vehicle form's "Decode VIN" button: asks /inventory/decode and fills the empty fields.
// Without JavaScript the button stays hidden and the server fills them on save. No dependencies.
(function () {
  "use strict";
  var form = document.getElementById("vehicle-form");
  if (!form) return;
  var button = form.querySelector("[data-decode]");
  var result = form.querySelector("[data-decode-result]");
  var FIELDS = ["year", "make", "model", "trim", "body_style", "drivetrain", "fuel", "transmission"];
  button.hidden = false;

  function say(text, bad) {
    result.textContent = text;
    result.classList.toggle("error", !!bad);
  }

  function fill(fields) {
    var filled = [];
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      var value = fields[name];
      if (input && !input.value.trim() && value !== null && value !== undefined && value !== "") {
        input.value = value;
        filled.push(name.replace("_", " "));
      }
    });
    return filled;
  }

  function show(answer) {
    if (!answer.valid) {
      say(answer.errors.join(" "), true);
      return;
    }
    var filled = fill(answer.fields || {});
    var parts = [filled.length ? "Filled " + filled.join(", ") + "." : "Nothing to fill: the fields have values."];
    if (answer.pending) parts.push("NHTSA vPIC could not be reached: filled from the VIN itself; decode pending.");
    else if (answer.source === "offline") parts.push("Filled from the VIN itself.");
    parts = parts.concat(answer.messages.filter(function (m) { return m.indexOf("vPIC:") === 0; }));
    if (answer.warnings.length) parts.push(answer.warnings.join(" "));
    say(parts.join(" "), answer.warnings.length > 0);
  }

  button.addEventListener("click", function () {
    var vin = form.elements.vin.value.trim();
    if (!vin) { say("Type the VIN first.", true); return; }
    button.disabled = true;
    say("Decoding…");
    fetch(form.dataset.decodeUrl + "?vin=" + encodeURIComponent(vin), {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(show)
      .catch(function () { say("Could not decode now; the fields will be filled when you save.", true); })
      .finally(function () { button.disabled = false; });
  });
})();
