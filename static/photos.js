// Vehicle photos page: upload with a progress bar, live gallery while sizes are made, drag to
// reorder (mouse, finger or pen). Without this script the page still works: plain forms, one
// reload each.
(function () {
  "use strict";
  var form = document.getElementById("photo-upload");
  var gallery = document.getElementById("gallery");
  if (!gallery) return;
  var POLL_MS = 1500;
  var pollTimer = null;

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function mib(bytes) { return (bytes / 1048576).toFixed(1) + " MiB"; }

  // --- the gallery: refreshed from the page itself, so there is one template -----------------

  function domSignature() {
    return Array.prototype.map.call(gallery.querySelectorAll("[data-photo-id]"), function (li) {
      return li.dataset.photoId + ":" + li.dataset.status;
    }).join(",");
  }

  var refreshHeld = false;  // a refresh that arrived during a drag, done once the card is put down

  function refreshGallery() {
    return fetch(window.location.pathname, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("gallery");
        if (!fresh) return;
        if (press) { refreshHeld = true; return; }  // never pull the cards from under a finger
        gallery.innerHTML = fresh.innerHTML;
        gallery.dataset.busy = fresh.dataset.busy;
        var failures = document.getElementById("gallery-failures");
        var freshFailures = page.getElementById("gallery-failures");
        if (failures && freshFailures) failures.innerHTML = freshFailures.innerHTML;
        bindGallery();
      });
  }

  function poll() {
    pollTimer = null;
    fetch(gallery.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var shown = body.photos.map(function (p) { return p.id + ":" + p.status; }).join(",");
        var refresh = shown !== domSignature() ? refreshGallery() : Promise.resolve();
        return refresh.then(function () { if (body.busy > 0) schedulePoll(); });
      })
      .catch(function () { schedulePoll(POLL_MS * 4); });
  }

  function schedulePoll(delay) {
    if (pollTimer === null) pollTimer = setTimeout(poll, delay || POLL_MS);
  }

  // --- upload: in batches that fit the request limit, one progress bar over all of them -----

  function batches(files, maxBytes, maxCount) {
    var result = [], current = [], size = 0;
    files.forEach(function (file) {
      if (current.length && (size + file.size > maxBytes * 0.95 || current.length >= maxCount)) {
        result.push(current);
        current = [];
        size = 0;
      }
      current.push(file);
      size += file.size;
    });
    if (current.length) result.push(current);
    return result;
  }

  function note(text, kind) {
    var li = document.createElement("li");
    li.textContent = text;
    li.className = kind === "error" ? "error" : "muted";
    form.querySelector(".upload-notes").appendChild(li);
  }

  function sendBatch(files, onProgress) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("csrf_token", csrfToken());
      files.forEach(function (file) { data.append("photos", file, file.name); });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
        resolve({ status: xhr.status, body: body });
      });
      xhr.addEventListener("error", function () { resolve({ status: 0, body: null }); });
      xhr.send(data);
    });
  }

  function report(answer, files) {
    var body = answer.body || {};
    if (body.error) {
      note(body.error.message, "error");
      Object.keys(body.error.fields || {}).forEach(function (name) {
        if (name !== "photos") note(body.error.fields[name], "error");
      });
    } else if (!answer.body) {
      note("The upload of " + files.length + " photo(s) failed (HTTP " + answer.status + "); try again.", "error");
    }
    (body.errors || []).forEach(function (e) { note(e.filename + ": " + e.message, "error"); });
    (body.duplicates || []).forEach(function (d) { note(d.filename + ": this vehicle has that photo already.", "info"); });
    (body.warnings || []).forEach(function (w) { note(w.filename + ": " + w.message, "info"); });
    return (body.stored || []).length;
  }

  function upload(fileList) {
    var maxFile = Number(form.dataset.maxFile), maxRequest = Number(form.dataset.maxRequest);
    var files = [];
    form.querySelector(".upload-notes").innerHTML = "";
    Array.prototype.forEach.call(fileList, function (file) {
      if (file.size > maxFile) note(file.name + ": " + mib(file.size) + " is over the " + mib(maxFile) + " limit.", "error");
      else files.push(file);
    });
    if (!files.length) return;
    var progress = form.querySelector(".upload-progress");
    var status = form.querySelector(".upload-status");
    var total = files.reduce(function (sum, f) { return sum + f.size; }, 0) || 1;
    var done = 0, stored = 0;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = "Uploading " + files.length + " photo(s)…";
    var chain = Promise.resolve();
    batches(files, maxRequest, Number(form.dataset.maxCount)).forEach(function (batch) {
      var size = batch.reduce(function (sum, f) { return sum + f.size; }, 0);
      chain = chain.then(function () {
        return sendBatch(batch, function (fraction) {
          progress.value = Math.round(100 * (done + fraction * size) / total);
        }).then(function (answer) {
          done += size;
          progress.value = Math.round(100 * done / total);
          stored += report(answer, batch);
          return refreshGallery();
        });
      });
    });
    chain.then(function () {
      progress.value = 100;
      status.textContent = "Uploaded " + stored + " of " + files.length + " photo(s)." +
        (stored ? " The web sizes appear below as they are made." : "");
      schedulePoll();
    });
  }

  if (form) {
    form.classList.add("js");
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      input.addEventListener("change", function () {
        var chosen = Array.prototype.slice.call(input.files);
        input.value = "";
        upload(chosen);
      });
    });
  }

  // --- reorder: the same save for every way of moving a card --------------------------------

  function cards() {
    return Array.prototype.slice.call(gallery.querySelectorAll("[data-photo-id]"));
  }

  function order() {
    return cards().map(function (li) { return li.dataset.photoId; }).join(",");
  }

  function saveOrder() {
    var data = new FormData();
    data.append("csrf_token", csrfToken());
    cards().forEach(function (li) { data.append("photo_ids", li.dataset.photoId); });
    return fetch(gallery.dataset.orderUrl, {
      method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(refreshGallery, refreshGallery);  // either way, show the order the server kept
  }

  // Does the point fall in the second half of the card, in reading order? Across in a grid of
  // several columns, down in a single column.
  function pastMiddle(li, x, y) {
    var box = li.getBoundingClientRect();
    var columns = getComputedStyle(gallery).gridTemplateColumns.split(" ").length;
    return columns > 1 ? x > box.left + box.width / 2 : y > box.top + box.height / 2;
  }

  // --- mouse: HTML5 drag and drop on the whole card -------------------------------------------

  var dragged = null;

  function clearMarks() {
    gallery.querySelectorAll(".drop-before, .drop-after").forEach(function (li) {
      li.classList.remove("drop-before", "drop-after");
    });
  }

  function bindMouseDrag(li) {
    li.addEventListener("dragstart", function (event) {
      if (press) { event.preventDefault(); return; }  // the handle is moving it already
      dragged = li;
      li.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", li.dataset.photoId);
    });
    li.addEventListener("dragend", function () { li.classList.remove("dragging"); clearMarks(); dragged = null; });
    li.addEventListener("dragover", function (event) {
      if (!dragged || dragged === li) return;
      event.preventDefault();
      clearMarks();
      li.classList.add(pastMiddle(li, event.clientX, event.clientY) ? "drop-after" : "drop-before");
    });
    li.addEventListener("drop", function (event) {
      if (!dragged || dragged === li) return;
      event.preventDefault();
      li.parentNode.insertBefore(dragged, pastMiddle(li, event.clientX, event.clientY) ? li.nextSibling : li);
      clearMarks();
      saveOrder();
    });
  }

  // --- finger, pen or mouse: Pointer Events on the card's handle ------------------------------
  // Only the handle takes the gesture (CSS touch-action: none on it), so a finger anywhere else
  // on the page still scrolls it. The lifted card follows the pointer and the others make room
  // as it passes; letting go saves the order, a cancelled gesture puts everything back.

  var SLOP = 6;          // px a press must travel before it is a drag (a tap moves nothing)
  var EDGE = 56;         // px from the top or bottom of the window where the page scrolls
  var press = null;

  function onHandleDown(event) {
    if (press || !event.isPrimary || (event.pointerType === "mouse" && event.button !== 0)) return;
    var li = event.currentTarget.closest("[data-photo-id]");
    var box = li.getBoundingClientRect();
    event.preventDefault();  // no text selection, no native drag of the card
    press = {
      li: li, pointerId: event.pointerId, startX: event.clientX, startY: event.clientY,
      x: event.clientX, y: event.clientY, offsetX: event.clientX - box.left,
      offsetY: event.clientY - box.top, before: cards(), dragging: false, frame: null
    };
    window.addEventListener("pointermove", onPointerMove);
    window.addEventListener("pointerup", onPointerUp);
    window.addEventListener("pointercancel", onPointerCancel);
  }

  function onPointerMove(event) {
    if (!press || event.pointerId !== press.pointerId) return;
    event.preventDefault();
    press.x = event.clientX;
    press.y = event.clientY;
    if (!press.dragging) {
      if (Math.abs(press.x - press.startX) + Math.abs(press.y - press.startY) < SLOP) return;
      press.dragging = true;
      press.li.classList.add("lifted");
      gallery.classList.add("sorting");
      press.frame = window.requestAnimationFrame(autoScroll);
    }
    track();
  }

  // Place the lifted card where the pointer is, then draw it under the pointer.
  function track() {
    var li = press.li;
    var target = document.elementFromPoint(press.x, press.y);  // the lifted card lets points through
    var over = target && target.closest("#gallery [data-photo-id]");
    if (over && over !== li) {
      var rest = cards().filter(function (card) { return card !== li; });
      var at = rest.indexOf(over) + (pastMiddle(over, press.x, press.y) ? 1 : 0);
      rest.splice(at, 0, li);
      arrange(rest);
    }
    li.style.transform = "";
    var box = li.getBoundingClientRect();
    li.style.transform = "translate(" + (press.x - press.offsetX - box.left) + "px, " +
      (press.y - press.offsetY - box.top) + "px)";
  }

  // Put the cards in this order by moving the others around the lifted card: the card under the
  // pointer never leaves the document, so the browser never loses track of the gesture.
  function arrange(wanted) {
    var li = press.li, at = wanted.indexOf(li);
    if (wanted.map(function (c) { return c.dataset.photoId; }).join(",") === order()) return;
    wanted.slice(0, at).forEach(function (card) { gallery.insertBefore(card, li); });
    wanted.slice(at + 1).reverse().forEach(function (card) { gallery.insertBefore(card, li.nextSibling); });
  }

  function autoScroll() {
    if (!press || !press.dragging) return;
    var step = press.y < EDGE ? -12 : press.y > window.innerHeight - EDGE ? 12 : 0;
    if (step) {
      window.scrollBy(0, step);
      track();
    }
    press.frame = window.requestAnimationFrame(autoScroll);
  }

  function onPointerUp(event) {
    if (!press || event.pointerId !== press.pointerId) return;
    var changed = press.dragging && press.before.map(function (c) { return c.dataset.photoId; }).join(",") !== order();
    finish();
    if (changed) saveOrder();
    else releaseHeldRefresh();
  }

  function onPointerCancel(event) {
    if (!press || event.pointerId !== press.pointerId) return;
    var before = press.before;
    finish();
    before.forEach(function (card) { gallery.appendChild(card); });
    releaseHeldRefresh();
  }

  function finish() {
    window.removeEventListener("pointermove", onPointerMove);
    window.removeEventListener("pointerup", onPointerUp);
    window.removeEventListener("pointercancel", onPointerCancel);
    if (press.frame !== null) window.cancelAnimationFrame(press.frame);
    press.li.classList.remove("lifted");
    press.li.style.transform = "";
    gallery.classList.remove("sorting");
    press = null;
  }

  function releaseHeldRefresh() {
    if (refreshHeld) {
      refreshHeld = false;
      refreshGallery();
    }
  }

  function bindGallery() {
    gallery.querySelectorAll("[data-photo-id]").forEach(bindMouseDrag);
    gallery.querySelectorAll(".drag-handle").forEach(function (handle) {
      handle.addEventListener("pointerdown", onHandleDown);
      handle.addEventListener("contextmenu", function (event) { event.preventDefault(); });  // long press
    });
    if (window.PointerEvent) gallery.classList.add("sortable");
    gallery.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (event) {
        if (!window.confirm(f.dataset.confirm)) event.preventDefault();
      });
    });
  }

  bindGallery();
  if (gallery.dataset.busy === "1") schedulePoll();
})();
