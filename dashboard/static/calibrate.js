/* Calibrate: the three steps against the API, with the live reading from the stream. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var ORDER = ['tare', 'known', 'empty', 'done'];

  function show(state) {
    var wizard = $('wizard'), at = ORDER.indexOf(state.step);
    wizard.dataset.step = state.step;
    document.querySelectorAll('.step').forEach(function (li) {
      var i = ORDER.indexOf(li.dataset.step);
      li.classList.toggle('current', i === at);
      li.classList.toggle('complete', i < at);
    });
    var c = state.current;
    $('cur-offset').textContent = c.offset.toFixed(0);
    $('cur-factor').textContent = c.counts_per_gram.toFixed(2);
    $('cur-empty').textContent = c.empty_bottle_g ? c.empty_bottle_g.toFixed(0) + ' g' : 'not set';
    if (state.result) {
      var r = state.result;
      $('result').textContent = 'Saved: ' + r.counts_per_gram.toFixed(2) + ' counts per gram' +
        (r.empty_bottle_g ? ', empty bottle ' + r.empty_bottle_g.toFixed(0) + ' g' : '') + '.';
    }
  }

  function step(url, body, errorId) {
    var busy = $('busy');
    document.querySelectorAll('#wizard button').forEach(function (b) { b.disabled = true; });
    document.querySelectorAll('#wizard .field-error').forEach(function (p) { p.hidden = true; });
    busy.hidden = false;
    return cw.api('POST', url, body).then(show).catch(function (e) {
      var key = Object.keys(e.fields || {})[0], p = key && $('err-' + key);
      if (p) { p.textContent = e.message; p.hidden = false; } else { cw.toast(e.message, 'error'); }
    }).then(function () {
      busy.hidden = true;
      document.querySelectorAll('#wizard button').forEach(function (b) { b.disabled = false; });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    show({ step: $('wizard').dataset.step, current: {
      offset: parseFloat($('cur-offset').textContent), counts_per_gram: parseFloat($('cur-factor').textContent),
      empty_bottle_g: parseFloat($('cur-empty').textContent) || null }, result: null });
    $('do-tare').addEventListener('click', function () { step('/api/v1/calibration/tare'); });
    $('known-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var grams = parseFloat($('known-grams').value);
      if (!(grams > 0)) { var p = $('err-grams'); p.textContent = 'Type the weight in grams.'; p.hidden = false; return; }
      step('/api/v1/calibration/known', { grams: grams });
    });
    $('do-empty').addEventListener('click', function () { step('/api/v1/calibration/empty', { skip: false }); });
    $('skip-empty').addEventListener('click', function () { step('/api/v1/calibration/empty', { skip: true }); });
    $('restart').addEventListener('click', function () { step('/api/v1/calibration/reset'); });
    cw.on('weight', function (b) {
      $('live-dot').classList.toggle('on', !!b.live);
      $('reading').textContent = b.live ? b.grams.toFixed(1) + ' g' : '–';
    });
  });
})();
