/* crampwatch: shared helpers. cw.api() sends the CSRF token with every change;
   cw.on(name, fn) subscribes to the live stream (Server-Sent Events). */
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : '';

  function api(method, url, body) {
    var opts = { method: method, credentials: 'same-origin',
                 headers: { 'Accept': 'application/json', 'X-CSRF-Token': csrf } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (!res.ok) {
          var err = new Error((data && data.error) || res.statusText);
          err.status = res.status;
          err.fields = (data && data.fields) || {};
          throw err;
        }
        return data;
      });
    });
  }

  var toastTimer = null;
  function toast(message, kind) {
    var el = document.getElementById('toast');
    if (!el) return;
    el.textContent = message;
    el.className = 'toast' + (kind ? ' ' + kind : '');
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, kind === 'error' ? 6000 : 2500);
  }

  function fmtMl(v) {
    if (v === null || v === undefined) return '–';
    return Math.round(v).toLocaleString('en').replace(/,/g, '\u202f') + '\u202fmL';
  }

  var source = null, handlers = {};
  function dispatch(name, data) { (handlers[name] || []).forEach(function (fn) { fn(data); }); }
  function connect() {
    if (source || !window.EventSource) return;
    source = new EventSource('/api/v1/stream');
    source.addEventListener('error', function () {
      // The browser retries a dropped stream by itself, but not one refused (busy, or a
      // restart in progress): try again a little later.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 10000);
      }
    });
    ['weight', 'reminder', 'health', 'event'].forEach(function (name) {
      source.addEventListener(name, function (e) { dispatch(name, JSON.parse(e.data)); });
    });
    window.addEventListener('pagehide', function () { if (source) source.close(); });
  }
  function on(name, fn) { (handlers[name] = handlers[name] || []).push(fn); connect(); }

  // The header's health dot follows the stream on pages that open one.
  handlers.health = [function (h) {
    var el = document.getElementById('overall');
    if (!el) return;
    el.className = 'status status-' + h.overall;
    el.querySelector('.status-text').textContent = h.overall;
  }];

  // Where the navigation scrolls sideways (a narrow window; on a phone it wraps): bring the current page's tab into view.
  document.addEventListener('DOMContentLoaded', function () {
    var nav = document.querySelector('.nav'), current = nav && nav.querySelector('[aria-current="page"]');
    if (current && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
    }
  });

  window.cw = { api: api, toast: toast, fmtMl: fmtMl, on: on, connect: connect };
})();
