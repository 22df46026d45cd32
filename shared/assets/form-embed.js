// The one-line embed of a Konnecs form: <script src=".../form-embed-HASH.js"
// data-form="PUBLIC_ID" async></script> puts the hosted form in an iframe
// right after the script tag, passes the page's address, referrer and UTM
// parameters to it, sizes the iframe to the form's height as the form
// reports it, and after a send of a form with a redirect address takes the
// page there (postMessage from the form's own origin and frame only; https
// addresses only, as the form's settings allow).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var id = script.getAttribute("data-form");
  if (!id || !/^[A-Za-z0-9]+$/.test(id)) return;
  var origin = new URL(script.src, location.href).origin;
  var query = new URLSearchParams({ embed: "1", page_url: location.href });
  if (document.referrer) query.set("referrer", document.referrer);
  var here = new URLSearchParams(location.search);
  ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (name) {
    var value = here.get(name);
    if (value) query.set(name, value);
  });
  var frame = document.createElement("iframe");
  frame.src = origin + "/f/" + id + "?" + query.toString();
  frame.title = script.getAttribute("data-title") || "Form";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = "480px";
  frame.setAttribute("data-konnecs-form", id);
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.konnecsForm !== id) return;
    if (typeof data.redirect === "string") {
      var target;
      try {
        target = new URL(data.redirect);
      } catch (e) {
        return;
      }
      if (target.protocol === "https:") window.location.assign(target.href);
      return;
    }
    if (typeof data.height !== "number") return;
    frame.style.height = Math.max(100, Math.min(20000, Math.ceil(data.height))) + "px";
  });
})();
