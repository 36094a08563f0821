// A form is sent once. A double click, or a second click while a slow connection is
// still sending, would otherwise publish a listing or a message twice: a second submit
// of the same form within a few seconds is dropped. After that (a download that left
// the page in place, an answer that never came) the form can be sent again, and a page
// restored from the browser's history starts afresh. Without JavaScript every form
// works as before.
(function () {
  "use strict";
  var AGAIN_AFTER_MS = 8000;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
      return;
    }
    var sent = Number(form.dataset.sentAt || 0);
    if (sent && Date.now() - sent < AGAIN_AFTER_MS) {
      event.preventDefault();
      return;
    }
    form.dataset.sentAt = String(Date.now());
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent-at]").forEach(function (form) {
      delete form.dataset.sentAt;
    });
  });
})();
