/* Daily factors: a supplement, exercise, alcohol and medication for a day, one tap each.
   On Today the server's today is meant (no day is sent); on History the picked day. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };

  function render(f) {
    var card = $('factors');
    card.dataset.day = f.day;
    $('factors-when').textContent = f.day === f.today ? 'today' : f.day;
    $('f-supplement').checked = !!f.supplement;
    $('f-alcohol').checked = !!f.alcohol;
    $('f-alcohol-count').textContent = typeof f.alcohol === 'number'
      ? '(' + f.alcohol + ' drink' + (f.alcohol === 1 ? '' : 's') + ')' : '';
    card.querySelectorAll('button.exercise').forEach(function (b) {
      var on = b.dataset.exercise === (f.exercise || 'none');
      b.classList.toggle('chosen', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    $('f-medication').value = f.medication || '';
    $('f-electrolyte').textContent = f.electrolyte_ml ? 'Electrolyte drinks: ' + cw.fmtMl(f.electrolyte_ml)
      : 'No electrolyte drink logged';
    $('f-recorded').textContent = f.recorded ? 'Recorded: it counts in Insights.'
      : 'Nothing recorded for this day yet.';
  }

  function picking() { return $('factors').dataset.pick === 'yes'; }

  function load(day) {
    var query = day ? '?day=' + encodeURIComponent(day) : '';
    return cw.api('GET', '/api/v1/factors' + query).then(render).catch(function (e) { cw.toast(e.message, 'error'); });
  }

  function send(change) {
    var card = $('factors'), controls = card.querySelectorAll('input, button');
    if (picking()) change.day = card.dataset.day;
    controls.forEach(function (c) { c.disabled = true; });
    return cw.api('PATCH', '/api/v1/factors', change)
      .then(function (f) {
        render(f);
        cw.toast(f.changed ? 'Saved for ' + (f.day === f.today ? 'today' : f.day) : 'No change');
      })
      .catch(function (e) { cw.toast(e.message, 'error'); return reload(); })
      .then(function () { controls.forEach(function (c) { c.disabled = false; }); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var card = $('factors');
    if (!card) return;
    $('f-supplement').addEventListener('change', function (e) { send({ supplement: e.target.checked }); });
    $('f-alcohol').addEventListener('change', function (e) { send({ alcohol: e.target.checked }); });
    card.querySelectorAll('button.exercise').forEach(function (b) {
      b.addEventListener('click', function () { send({ exercise: b.dataset.exercise }); });
    });
    $('f-medication-form').addEventListener('submit', function (e) {
      e.preventDefault();
      send({ medication: $('f-medication').value });
    });
    var pick = $('factors-day');
    if (pick) pick.addEventListener('change', function () { if (pick.value) load(pick.value); });
  });

  function reload() {  // the day shown: today on Today, the picked day on History
    var card = $('factors');
    return card ? load(picking() ? card.dataset.day : null) : Promise.resolve();
  }

  window.cwFactors = { reload: reload };
})();
