/* Nights: label a wake-up as a cramp or not; add a cramp the detector missed. */
(function () {
  'use strict';
  function reloadWith(message) { sessionStorage.setItem('cw-toast', message); location.reload(); }
  document.addEventListener('DOMContentLoaded', function () {
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
