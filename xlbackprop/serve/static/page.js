// Only what helps: dropping a file on the form, and live progress while a workbook is checked.
// Without JavaScript the form posts as it is and the result page refreshes itself.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("upload");
  if (form) {
    var drop = document.getElementById("drop");
    var input = document.getElementById("workbook");
    var status = document.getElementById("sending");
    document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
    ["dragenter", "dragover"].forEach(function (type) {
      drop.addEventListener(type, function (event) { event.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      drop.addEventListener(type, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function () {
      status.textContent = "Sending your workbook…";
      document.getElementById("send").disabled = true;
    });
  }

  // A wide table: bring the first error's cell into view (without JavaScript the grid scrolls by hand).
  document.querySelectorAll(".grid-scroll").forEach(function (box) {
    var wrong = box.querySelector("td.first") || box.querySelector("td.wrong");
    if (wrong && wrong.offsetLeft + wrong.offsetWidth > box.clientWidth) {
      box.scrollLeft = wrong.offsetLeft - box.clientWidth / 4;
    }
  });

  var progress = document.getElementById("progress");
  if (progress) {
    var url = progress.getAttribute("data-state-url");
    var text = document.getElementById("state");
    var poll = function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.json(); })
        .then(function (state) {
          if (state.state === "done") { window.location.reload(); return; }
          text.textContent = state.state === "queued"
            ? "Waiting for a free place: " + state.position + " workbook" + (state.position === 1 ? "" : "s") + " before yours."
            : "Recomputing every cell and comparing with PyTorch…";
          window.setTimeout(poll, 700);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 500);
  }
});
