/* Settings: send a section's values as JSON; show each field's error next to it. */
(function () {
  'use strict';
  function valueOf(el) {
    var kind = el.dataset.kind, raw = el.value, nullable = el.dataset.nullable === '1';
    if (kind === 'boolean') return el.checked;
    if (kind === 'list') {
      return raw.split(',').map(function (x) { return x.trim(); }).filter(function (x) { return x !== ''; })
        .map(function (x) { return el.dataset.item === 'string' ? x : Number(x); });
    }
    if (raw === '' && nullable) return null;
    if (kind === 'integer' || kind === 'number') return raw === '' ? raw : Number(raw);
    if (kind === 'json') { try { return JSON.parse(raw); } catch (e) { throw { field: el.name, message: 'is not valid JSON' }; } }
    return raw;
  }
  function clearErrors(form) {
    form.querySelectorAll('.field-error').forEach(function (p) { p.hidden = true; p.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }
  function showError(section, key, message) {
    var p = document.getElementById('err-' + section + (key ? '-' + key : '')) || document.getElementById('err-' + section);
    var input = key && document.getElementById(section + '-' + key);
    if (input) input.setAttribute('aria-invalid', 'true');
    if (p) { p.textContent = message; p.hidden = false; }
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.settings-form').forEach(function (form) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        clearErrors(form);
        var section = form.dataset.section, values = {};
        try {
          form.querySelectorAll('[name]').forEach(function (el) {
            if (el.dataset.kind === 'multi') {
              values[el.name] = values[el.name] || [];
              if (el.checked) values[el.name].push(el.value);
            } else {
              values[el.name] = valueOf(el);
            }
          });
        } catch (e) { showError(section, e.field, e.message); return; }
        var body = {}; body[section] = values;
        var button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        cw.api('PATCH', '/api/v1/settings', body)
          .then(function () { cw.toast('Saved'); })
          .catch(function (e) {
            var shown = false;
            Object.keys(e.fields || {}).forEach(function (name) {
              var parts = name.split('.');
              showError(parts[0], parts.slice(1).join('.'), e.fields[name]);
              shown = true;
            });
            if (!shown) showError(section, null, e.message);
            cw.toast('Not saved: check the highlighted settings', 'error');
          })
          .then(function () { button.disabled = false; });
      });
    });
  });
})();
