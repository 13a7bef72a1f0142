/* Today at a glance: how long since the last drink (it ticks on) and the next reminder the
   reminder service plans. Fresh figures come with Today's refresh (the 'cw:today' event of
   today.js) and, for the plan, with each change of the active reminder. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var last = null, since = 0, reminders = true;  /* the last drink as of `since` (performance.now()) */

  function ago(s) {
    var m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (m < 1) return 'just now';
    if (h < 1) return m + ' min ago';
    return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '') + ' ago';
  }

  function tick() {
    if (!last) {
      $('since-drink').textContent = 'No drink yet';
      $('last-drink-note').textContent = 'None in the last day.';
      return;
    }
    $('since-drink').textContent = ago(last.ago_s + (performance.now() - since) / 1000);
    $('last-drink-note').textContent = 'at ' + last.time + ' · ' + cw.fmtMl(last.ml);
  }

  function renderNext(n) {
    $('next-reminder').textContent = n ? (n.kind === 'stretch' ? 'Stretching' : 'A drink') + ' at ' + n.time + (n.tomorrow ? ' tomorrow' : '')
      : reminders ? 'None planned for now' : 'Reminders are not running on this device.';
    $('next-note').textContent = n ? n.note : '';
  }

  function render(d) {
    last = d.last_drink;
    since = performance.now();
    tick();
    renderNext(d.next_reminder);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var data = $('glance-data');
    if (!data) return;
    data = JSON.parse(data.textContent);
    reminders = data.reminders;
    render(data);
    setInterval(tick, 30 * 1000);
    document.addEventListener('cw:today', function (e) { render(e.detail); });
    cw.on('reminder', function () {
      cw.api('GET', '/api/v1/reminder').then(function (r) { renderNext(r.next); }).catch(function () {});
    });
  });
})();
