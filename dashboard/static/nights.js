/* Nights: sleep week by week and cramps by hour; a night's movement when opened; label a
   wake-up as a cramp or not; add a cramp the detector missed. */
(function () {
  'use strict';
  function reloadWith(message) { sessionStorage.setItem('cw-toast', message); location.reload(); }
  var MAX_POINTS = 600;  /* the API's bound */

  function drawMovement(details) {
    var el = details.querySelector('.move-chart');
    if (!details.open || el.dataset.drawn || !window.uPlot) return;
    el.dataset.drawn = 'yes';
    var points = Math.max(60, Math.min(MAX_POINTS, Math.round(el.clientWidth / 2)));
    cw.api('GET', '/api/v1/nights/' + encodeURIComponent(details.dataset.night) + '/movement?points=' + points)
      .then(function (m) {
        if (!m.points.length) {
          el.classList.add('empty');
          el.textContent = m.movement ? 'No movement was recorded this night.' : 'Movement is not kept on this device.';
          return;
        }
        cwCharts.movement(el, m);
      })
      .catch(function (e) { delete el.dataset.drawn; cw.toast(e.message, 'error'); });
  }

  function drawTrends() {
    var sleep = document.getElementById('sleep-chart'), hours = document.getElementById('hours-chart');
    if (!window.uPlot) return;
    if (sleep) cwCharts.sleepWeeks(sleep, JSON.parse(document.getElementById('sleep-data').textContent));
    if (hours) cwCharts.crampHours(hours, JSON.parse(document.getElementById('hours-data').textContent));
  }

  document.addEventListener('DOMContentLoaded', function () {
    drawTrends();
    document.querySelectorAll('details.movement').forEach(function (d) {
      d.addEventListener('toggle', function () { drawMovement(d); });
      drawMovement(d);
    });
    var pending = sessionStorage.getItem('cw-toast');
    if (pending) { sessionStorage.removeItem('cw-toast'); cw.toast(pending); }
    document.querySelectorAll('.label-btn').forEach(function (btn) {
      btn.addEventListener('click', function () {
        var li = btn.closest('.wake'), cramp = btn.dataset.cramp === 'true';
        btn.disabled = true;
        cw.api('POST', '/api/v1/wakes/' + encodeURIComponent(li.dataset.wake) + '/label', { cramp: cramp })
          .then(function () { reloadWith(cramp ? 'Marked as a cramp' : 'Marked as not a cramp'); })
          .catch(function (e) { btn.disabled = false; cw.toast(e.message, 'error'); });
      });
    });
    document.querySelectorAll('.add-cramp-form').forEach(function (form) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var time = form.elements.time.value;
        if (!time) { cw.toast('Pick the time of the cramp', 'error'); return; }
        cw.api('POST', '/api/v1/cramps', { night: form.dataset.night, time: time })
          .then(function (r) { reloadWith('Cramp added at ' + r.time); })
          .catch(function (e) { cw.toast(e.message, 'error'); });
      });
    });
  });
})();
