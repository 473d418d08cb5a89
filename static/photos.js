// Vehicle photos page: upload with a progress bar, live gallery while sizes are made, drag to
// reorder. Without this script the page still works: plain forms, one reload each.
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

  function refreshGallery() {
    return fetch(window.location.pathname, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("gallery");
        if (!fresh) return;
        gallery.innerHTML = fresh.innerHTML;
        gallery.dataset.busy = fresh.dataset.busy;
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

  // --- reorder by dragging (mouse); the arrow buttons stay for touch screens -----------------

  var dragged = null;

  function clearMarks() {
    gallery.querySelectorAll(".drop-before, .drop-after").forEach(function (li) {
      li.classList.remove("drop-before", "drop-after");
    });
  }

  function after(li, event) {
    var box = li.getBoundingClientRect();
    return event.clientX > box.left + box.width / 2;
  }

  function saveOrder() {
    var data = new FormData();
    data.append("csrf_token", csrfToken());
    gallery.querySelectorAll("[data-photo-id]").forEach(function (li) { data.append("photo_ids", li.dataset.photoId); });
    return fetch(gallery.dataset.orderUrl, {
      method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(refreshGallery);
  }

  function bindGallery() {
    gallery.querySelectorAll("[data-photo-id][draggable=true]").forEach(function (li) {
      li.addEventListener("dragstart", function (event) {
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
        li.classList.add(after(li, event) ? "drop-after" : "drop-before");
      });
      li.addEventListener("drop", function (event) {
        if (!dragged || dragged === li) return;
        event.preventDefault();
        li.parentNode.insertBefore(dragged, after(li, event) ? li.nextSibling : li);
        clearMarks();
        saveOrder();
      });
    });
    gallery.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (event) {
        if (!window.confirm(f.dataset.confirm)) event.preventDefault();
      });
    });
  }

  bindGallery();
  if (gallery.dataset.busy === "1") schedulePoll();
})();
