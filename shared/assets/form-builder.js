// The form builder's drag-and-drop: a field of #field-list dragged to a new
// place posts the new order (the same post as the Move buttons, which stay
// for keyboard and touch users) through the hidden #order-form.
(function () {
  "use strict";
  function init() {
    var list = document.getElementById("field-list");
    var form = document.getElementById("order-form");
    var input = document.getElementById("order-input");
    if (!list || !form || !input) return;
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      var item = event.target.closest && event.target.closest("li[data-key]");
      if (!item) return;
      dragged = item;
      item.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", item.getAttribute("data-key"));
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) return;
      event.preventDefault();
      var over = event.target.closest && event.target.closest("li[data-key]");
      if (!over || over === dragged) return;
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (event) {
      if (!dragged) return;
      event.preventDefault();
    });
    list.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      var keys = [];
      var items = list.querySelectorAll("li[data-key]");
      for (var i = 0; i < items.length; i++) keys.push(items[i].getAttribute("data-key"));
      input.value = keys.join(",");
      form.submit();
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
