// Inside a hosted form shown in an iframe: tells the embedding page how tall
// the form is (only the height, nothing the visitor typed), whenever it
// changes, so the embed script can size the iframe. Also moves focus to the
// error summary after a failed send.
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
  function init() {
    var summary = document.getElementById("form-errors");
    if (summary) summary.focus();
    report();
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
