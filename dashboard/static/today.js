/* Today: live bottle, reminder buttons, drinks logged by hand, corrected or deleted, and a
   refresh of the numbers after each drink. */
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
    d.drinks.forEach(function (x) { list.appendChild(drinkItem(x)); });
    if (!d.drinks.length) {
      var li = document.createElement('li'); li.className = 'empty muted'; li.textContent = 'No drinks yet today.'; list.appendChild(li);
    }
    $('drink-count').textContent = d.drinks.length + ' today' + (d.refills ? ', ' + d.refills + ' refill' + (d.refills > 1 ? 's' : '') : '');
    var caffeine = $('caffeine');
    caffeine.hidden = !d.caffeine_ml;
    caffeine.textContent = 'Tea and coffee today: ' + cw.fmtMl(d.caffeine_ml);
    drawChart(d.chart);
    renderReminder(d.reminder);
    document.dispatchEvent(new CustomEvent('cw:today', { detail: d }));  /* glance.js: last drink, next reminder */
  }

  function badge(text) {
    var b = document.createElement('span');
    b.className = 'badge';
    b.textContent = text;
    return b;
  }

  function drinkItem(x) {  // as today.html renders it
    var li = document.createElement('li'), t = document.createElement('time'), v = document.createElement('span'),
      edit = document.createElement('button');
    li.dataset.drink = x.id;
    t.textContent = x.time;
    v.className = 'what';
    if (x.kind !== 'water') { v.appendChild(badge(x.kind)); v.appendChild(document.createTextNode(' ')); }
    if (x.source === 'manual') { v.appendChild(badge('by hand')); v.appendChild(document.createTextNode(' ')); }
    if (x.corrected) { v.appendChild(badge('corrected')); v.appendChild(document.createTextNode(' ')); }
    v.appendChild(document.createTextNode(cw.fmtMl(x.ml)));
    edit.type = 'button'; edit.className = 'link edit-drink'; edit.textContent = 'Edit';
    edit.dataset.drink = x.id; edit.dataset.ml = x.ml; edit.dataset.kind = x.kind;
    edit.setAttribute('aria-label', 'Correct or delete the drink at ' + x.time);
    li.appendChild(t); li.appendChild(v); li.appendChild(edit);
    return li;
  }

  function refresh() {
    if (window.cwFactors) cwFactors.reload();  // an electrolyte drink shows there
    return cw.api('GET', '/api/v1/today').then(renderDay).catch(function (e) { cw.toast(e.message, 'error'); });
  }

  // -- drinks by hand, corrections, deletions ------------------------------------------------
  var kind = 'water';

  function logDrink(ml, buttons) {
    buttons.forEach(function (b) { b.disabled = true; });  // one tap, one drink
    return cw.api('POST', '/api/v1/drinks', { ml: ml, kind: kind })
      .then(function (d) {
        cw.toast('Logged ' + cw.fmtMl(d.ml) + ' of ' + d.kind + ' at ' + d.time);
        refresh();
        return true;
      })
      .catch(function (e) { cw.toast(e.message, 'error'); return false; })
      .then(function (ok) { buttons.forEach(function (b) { b.disabled = false; }); return ok; });
  }

  function openEditor(button) {
    var form = $('drink-edit');
    form.dataset.drink = button.dataset.drink;
    form.elements.ml.value = button.dataset.ml;
    form.elements.kind.value = button.dataset.kind;
    $('drink-edit-what').textContent = 'The drink at ' + button.closest('li').querySelector('time').textContent + ':';
    $('drink-delete').textContent = 'Delete';
    form.hidden = false;
    form.elements.ml.focus();
  }

  function closeEditor() { $('drink-edit').hidden = true; }

  function changeDrink(method, body, done) {
    var form = $('drink-edit'), buttons = form.querySelectorAll('button');
    buttons.forEach(function (b) { b.disabled = true; });
    cw.api(method, '/api/v1/drinks/' + encodeURIComponent(form.dataset.drink), body)
      .then(function () { closeEditor(); cw.toast(done); refresh(); })
      .catch(function (e) { cw.toast(e.message, 'error'); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  }

  function bindDrinks() {
    var kinds = document.querySelectorAll('#drink-kinds button.kind');
    var presets = document.querySelectorAll('button.preset');
    kinds.forEach(function (b) {
      b.addEventListener('click', function () {
        kind = b.dataset.kind;
        kinds.forEach(function (o) {
          o.classList.toggle('chosen', o === b);
          o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
        });
      });
    });
    presets.forEach(function (b) {
      b.addEventListener('click', function () { logDrink(parseInt(b.dataset.ml, 10), presets); });
    });
    $('log-drink-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var input = e.target.elements.ml, buttons = e.target.querySelectorAll('button');
      logDrink(Number(input.value), buttons).then(function (ok) { if (ok) input.value = ''; });
    });
    $('drink-list').addEventListener('click', function (e) {
      var button = e.target.closest('button.edit-drink');
      if (button) openEditor(button);
    });
    $('drink-edit').addEventListener('submit', function (e) {
      e.preventDefault();
      var form = e.target;
      changeDrink('PATCH', { ml: Number(form.elements.ml.value), kind: form.elements.kind.value }, 'Drink corrected');
    });
    $('drink-delete').addEventListener('click', function (e) {
      if (e.target.textContent !== 'Really delete?') { e.target.textContent = 'Really delete?'; return; }  // two taps
      changeDrink('DELETE', undefined, 'Drink deleted');
    });
    $('drink-edit-cancel').addEventListener('click', closeEditor);
  }

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
    bindDrinks();
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
      else if (e.type === 'refill' || e.type === 'drink_change') { refresh(); }
    });
    setInterval(function () {  // the clock and the pace move on even without drinks
      refresh();
    }, 5 * 60 * 1000);
  });
})();
