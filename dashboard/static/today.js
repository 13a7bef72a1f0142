/* Today: live bottle, reminder buttons, and a refresh of the numbers after each drink. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var chart = null, BOTTLE_ML = 1000, RING = 326.7;

  function drawChart(data) {
    var el = $('today-chart');
    if (!el || !window.uPlot) return;
    if (chart) { chart.destroy(); chart = null; }
    chart = cwCharts.today(el, data);
  }

  function paceText(d) {
    if (d.progress >= 1) return ['Goal reached. Well done.', 'ahead'];
    if (d.pace_delta_ml < -150) return [cw.fmtMl(-d.pace_delta_ml) + ' behind pace', 'behind'];
    if (d.pace_delta_ml > 150) return [cw.fmtMl(d.pace_delta_ml) + ' ahead of pace', 'ahead'];
    return ['On pace', 'on'];
  }

  function renderDay(d) {
    $('intake').textContent = cw.fmtMl(d.intake_ml);
    $('goal').textContent = cw.fmtMl(d.goal_ml);
    var ring = $('ring');
    ring.setAttribute('stroke-dasharray', (RING * Math.min(d.progress, 1)).toFixed(1) + ' ' + RING);
    ring.classList.toggle('done', d.progress >= 1);
    var p = paceText(d), pace = $('pace');
    pace.textContent = p[0];
    pace.className = 'pace ' + p[1];
    var list = $('drink-list');
    list.textContent = '';
    d.drinks.forEach(function (x) {
      var li = document.createElement('li'), t = document.createElement('time'), v = document.createElement('span');
      t.textContent = x.time; v.textContent = cw.fmtMl(x.ml);
      li.appendChild(t); li.appendChild(v); list.appendChild(li);
    });
    if (!d.drinks.length) {
      var li = document.createElement('li'); li.className = 'empty muted'; li.textContent = 'No drinks yet today.'; list.appendChild(li);
    }
    $('drink-count').textContent = d.drinks.length + ' today' + (d.refills ? ', ' + d.refills + ' refill' + (d.refills > 1 ? 's' : '') : '');
    drawChart(d.chart);
    renderReminder(d.reminder);
  }

  function refresh() { return cw.api('GET', '/api/v1/today').then(renderDay).catch(function (e) { cw.toast(e.message, 'error'); }); }

  function renderBottle(b) {
    $('live-dot').classList.toggle('on', !!b.live);
    var fill = $('bottle-fill'), contents = $('contents'), note = $('bottle-note');
    if (!b.live) { contents.textContent = 'No reading'; note.textContent = 'The scale is not reporting.'; fill.setAttribute('height', '0'); return; }
    if (!b.present) { contents.textContent = 'Away'; note.textContent = 'The bottle is off the scale.'; fill.setAttribute('height', '0'); return; }
    if (b.contents_ml === null) { contents.textContent = b.grams.toFixed(0) + ' g'; note.textContent = 'on the scale (calibrate to see millilitres)'; return; }
    contents.textContent = cw.fmtMl(b.contents_ml);
    note.textContent = 'in the bottle';
    var h = Math.round(Math.min(1, b.contents_ml / BOTTLE_ML) * 96);
    fill.setAttribute('y', String(118 - h));
    fill.setAttribute('height', String(h));
  }

  function renderReminder(r) {
    var card = $('reminder-card');
    if (!card) return;
    $('reminder-active').hidden = !r;
    $('reminder-none').hidden = !!r;
    if (r) {
      $('reminder-kind').textContent = r.kind || 'reminder';
      $('reminder-title').textContent = r.title || '';
      $('reminder-text').textContent = r.message + (r.snoozed_until_time ? ' (snoozed until ' + r.snoozed_until_time + ')' : '');
      var list = $('reminder-routine');
      list.textContent = '';
      (r.routine || []).forEach(function (x) {
        var li = document.createElement('li'), b = document.createElement('strong');
        b.textContent = x.name;
        li.appendChild(b);
        li.appendChild(document.createTextNode(' ' + (x.how || '') + (x.hold_s ? ' Hold ' + x.hold_s + ' s' + (x.repeats ? ', ' + x.repeats + ' times' : '') + '.' : '')));
        list.appendChild(li);
      });
    }
  }

  function act(url, body, done) {
    var buttons = document.querySelectorAll('#reminder-active button');
    buttons.forEach(function (b) { b.disabled = true; });
    cw.api('POST', url, body).then(function (res) { renderReminder(res.active); cw.toast(done); })
      .catch(function (e) { cw.toast(e.message, 'error'); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var data = JSON.parse($('today-data').textContent);
    drawChart(data);
    $('ack').addEventListener('click', function () { act('/api/v1/reminder/ack', undefined, 'Done. Thank you.'); });
    document.querySelectorAll('.snooze').forEach(function (b) {
      b.addEventListener('click', function () {
        var m = parseInt(b.dataset.minutes, 10);
        act('/api/v1/reminder/snooze', { minutes: m }, 'Snoozed for ' + (m >= 60 ? m / 60 + ' h' : m + ' min'));
      });
    });
    cw.on('weight', renderBottle);
    cw.on('reminder', function (r) { renderReminder(r.active); });
    cw.on('event', function (e) {
      if (e.type === 'drink') { cw.toast('Drink: ' + cw.fmtMl(e.ml) + ' at ' + e.time); refresh(); }
      else if (e.type === 'refill') { refresh(); }
    });
    setInterval(function () {  // the clock and the pace move on even without drinks
      refresh();
    }, 5 * 60 * 1000);
  });
})();
