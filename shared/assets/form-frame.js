// Inside a hosted form shown in an iframe: tells the embedding page how tall
// the form is (only the height, nothing the visitor typed), whenever it
// changes, so the embed script can size the iframe. Also moves focus to the
// error summary after a failed send, and after a send of a form with a
// redirect address asks the embed script to take the page there (the
// thanks page's Continue link does it where no embed script listens).
(function () {
  "use strict";
  function report() {
    if (window.parent === window) return;
    var id = (location.pathname.match(/\/f\/([A-Za-z0-9]+)/) || [])[1];
    if (!id) return;
    // The content's own height (the document's would be at least the
    // iframe's current height, so it could never shrink).
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    window.parent.postMessage({ konnecsForm: id, height: height }, "*");
  }
  function redirect() {
    var link = document.getElementById("form-continue");
    if (!link || window.parent === window) return;
    var id = (location.pathname.match(/\/f\/([A-Za-z0-9]+)/) || [])[1];
    if (!id) return;
    // The address is the form's public setting, nothing the visitor typed.
    window.parent.postMessage({ konnecsForm: id, redirect: link.href }, "*");
  }
  function init() {
    var summary = document.getElementById("form-errors");
    if (summary) summary.focus();
    report();
    redirect();
    if (window.ResizeObserver) {
      new ResizeObserver(report).observe(document.body);
    } else {
      window.addEventListener("resize", report);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
