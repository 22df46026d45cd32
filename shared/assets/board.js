// The pipelines board's drag and drop. Dropping a card on another column
// submits the card's own "Move to" form with that column's stage, so a drag
// does exactly what the keyboard control does (and htmx, when present,
// swaps the board in place). No markup is built here.
(function () {
  'use strict';
  function wire(root) {
    root.querySelectorAll('[data-deal]').forEach(function (card) {
      card.setAttribute('draggable', 'true');
      card.addEventListener('dragstart', function (event) {
        event.dataTransfer.setData('text/plain', card.getAttribute('data-deal'));
        event.dataTransfer.effectAllowed = 'move';
      });
    });
    root.querySelectorAll('[data-stage-column]').forEach(function (column) {
      column.addEventListener('dragover', function (event) {
        event.preventDefault();
        column.classList.add('drop-target');
      });
      column.addEventListener('dragleave', function () {
        column.classList.remove('drop-target');
      });
      column.addEventListener('drop', function (event) {
        event.preventDefault();
        column.classList.remove('drop-target');
        var form = document.getElementById('move-' + event.dataTransfer.getData('text/plain'));
        var stage = column.getAttribute('data-stage-column');
        if (!form || form.getAttribute('data-stage') === stage) return;
        form.querySelector('select[name="stage_id"]').value = stage;
        form.requestSubmit();
      });
    });
  }
  // htmx announces the page and every swapped-in part with `htmx:load`.
  document.addEventListener('htmx:load', function (event) { wire(event.detail.elt); });
  if (!window.htmx) {
    document.addEventListener('DOMContentLoaded', function () { wire(document); });
  }
})();
