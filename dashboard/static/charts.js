/* Charts on uPlot (vendored in static/vendor/uplot): sized to their box, themed from CSS. */
(function () {
  'use strict';
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function hh(v) {  /* hours since the day's midnight (past 24 after the next one) as a clock time */
    var t = Math.round(v * 60), h = Math.floor(t / 60) % 24, m = t % 60;
    return (h < 10 ? '0' : '') + h + ':' + (m < 10 ? '0' : '') + m;
  }

  var plots = {};  /* each drawn chart by its element's id (the browser tests read them) */

  function latest(u) {  /* the last index where the first data series has a value */
    var ys = u.data[1] || [];
    for (var i = ys.length - 1; i >= 0; i--) if (ys[i] != null) return i;
    return null;
  }

  /* The legend shows values before any hover: the latest (or at(u)'s) while the pointer is away. */
  function restingLegend(opts, at) {
    var hooks = opts.hooks = opts.hooks || {};
    function rest(u) {
      if (u.cursor.idx != null) return;
      var i = (at || latest)(u);
      if (i != null) u.setLegend({ idx: i }, false);
    }
    hooks.ready = (hooks.ready || []).concat(rest);
    hooks.setCursor = (hooks.setCursor || []).concat(rest);
  }

  function responsive(el, opts, data, legendAt) {
    opts.width = Math.max(240, el.clientWidth);
    restingLegend(opts, legendAt);
    var plot = new uPlot(opts, data, el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () { plot.setSize({ width: Math.max(240, el.clientWidth), height: opts.height }); }).observe(el);
    }
    if (el.id) plots[el.id] = plot;
    return plot;
  }

  function ml(u, v) { return v == null ? '–' : Math.round(v) + ' mL'; }

  /* x splits for bars labelled by index: as many labels of about px pixels as fit (eight at
     most), always the last one */
  function everyFew(n, px) {
    return function (u) {
      var fit = Math.max(2, Math.floor(u.bbox.width / devicePixelRatio / px));
      var step = Math.ceil(n / Math.min(8, fit)), out = [];
      for (var i = 0; i < n; i++) if ((n - 1 - i) % step === 0) out.push(i);
      return out;
    };
  }

  function barPaths() { return uPlot.paths.bars({ size: [0.7, 40], align: 0 }); }

  function axis(extra) {
    var a = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') } };
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  /* Cumulative intake through the day and the expected pace to the goal. */
  function today(el, chart) {
    var pts = chart.pace, seen = {}, xs = [];
    chart.intake.concat(pts).forEach(function (p) { if (!seen[p[0]]) { seen[p[0]] = 1; xs.push(p[0]); } });
    xs.sort(function (a, b) { return a - b; });
    var intake = [], k = 0, total = 0;
    xs.forEach(function (x) {
      while (k < chart.intake.length && chart.intake[k][0] <= x) { total = chart.intake[k][1]; k++; }
      intake.push(total);
    });
    var last = chart.intake[chart.intake.length - 1][0];
    intake = intake.map(function (v, i) { return xs[i] > last ? null : v; });
    var pace = xs.map(function (x) {
      if (x <= pts[0][0]) return 0;
      for (var i = 1; i < pts.length; i++) {
        if (x <= pts[i][0]) { var a = pts[i - 1], b = pts[i]; return a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0]); }
      }
      return pts[pts.length - 1][1];
    });
    var p1 = pts[pts.length - 1];
    var range = chart.range || [0, 24], splits = [];  /* the day: halfway through one night to the next */
    for (var s = Math.ceil(range[0] / 6) * 6; s <= range[1]; s += 6) splits.push(s);
    return responsive(el, {
      height: 200, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: range }, y: { range: function (u, min, max) { return [0, Math.max(max, p1[1]) * 1.08]; } } },
      axes: [axis({ values: function (u, v) { return v.map(hh); }, splits: function () { return splits; } }),
             axis({ size: 56, values: function (u, v) { return v.map(function (x) { return x >= 1000 ? (x / 1000) + ' L' : x; }); } })],
      series: [{ label: 'Time', value: function (u, v) { return v == null ? '–' : hh(v); } },
               { label: 'Drunk', stroke: css('--water'), width: 3, fill: css('--brand-soft'), paths: uPlot.paths.stepped({ align: 1 }),
                 points: { show: false }, value: ml },
               { label: 'Pace', stroke: css('--muted'), width: 1.5, dash: [6, 6], points: { show: false }, value: ml }]
    }, [xs, intake, pace]);
  }

  /* Bars of intake per day (or average per day) with the goal line; a red dot over the bar of
     each day followed by a cramp night (d.cramps: cramp nights per bar, optional). */
  function bars(el, d) {
    var xs = d.labels.map(function (l, i) { return i; });
    var goal = xs.map(function () { return d.goal; });
    var met = css('--ok'), under = css('--water'), cramp = css('--cramp');
    var top = Math.max.apply(null, d.values.concat([d.goal])) * 1.1, lift = top * 0.05;
    var series = [{ label: d.unit || 'Day', value: function (u, i) { return i == null ? '–' : d.labels[i]; } },
                  { label: 'Intake', width: 0, fill: under, stroke: under, points: { show: false },
                    paths: uPlot.paths.bars({ size: [0.7, 40], align: 0, disp: { fill: { unit: 3, values: function (u, sidx) {
                      return u.data[sidx].map(function (v) { return v >= d.goal ? met : under; }); } } } }),
                    value: ml },
                  { label: 'Goal', stroke: met, width: 2, dash: [8, 5], points: { show: false }, value: ml }];
    var data = [xs, d.values, goal];
    if (d.cramps) {
      series.push({ label: d.unit === 'Day' ? 'Cramp night after' : 'Cramp nights', stroke: cramp, width: 0,
                    paths: function () { return null; }, points: { show: true, size: 11, fill: cramp, stroke: css('--card'), width: 2 },
                    value: function (u, v, s, i) { return i == null ? '–' : String(d.cramps[i]); } });
      data.push(d.cramps.map(function (c, i) { return c > 0 ? d.values[i] + lift : null; }));
    }
    return responsive(el, {
      height: 260, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] }, y: { range: function () { return [0, top + lift]; } } },
      axes: [axis({ values: function (u, v) { return v.map(function (i) { return d.labels[i] || ''; }); }, splits: everyFew(xs.length, 64) }),
             axis({ size: 56 })],
      series: series
    }, data);
  }

  /* Sleep week by week: hours asleep per night (bars) and wake-ups per night (a line). */
  function sleepWeeks(el, weeks) {
    var xs = weeks.map(function (w, i) { return i; }), labels = weeks.map(function (w) { return w.label; });
    function num(unit) { return function (u, v) { return v == null ? '–' : v.toFixed(1) + unit; }; }
    return responsive(el, {
      height: 220, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] }, h: { range: [0, 10] },
                n: { range: function (u, min, max) { return [0, Math.max(4, Math.ceil(max || 0) + 1)]; } } },
      axes: [axis({ values: function (u, v) { return v.map(function (i) { return labels[i] || ''; }); }, splits: everyFew(xs.length, 60) }),
             axis({ scale: 'h', size: 44, values: function (u, v) { return v.map(function (x) { return x + ' h'; }); } }),
             axis({ scale: 'n', side: 1, size: 36, grid: { show: false } })],
      series: [{ label: 'Week of', value: function (u, i) { return i == null ? '–' : labels[i]; } },
               { label: 'Asleep', scale: 'h', width: 0, fill: css('--sleep'), stroke: css('--sleep'), points: { show: false },
                 paths: barPaths(), value: num(' h') },
               { label: 'Wake-ups a night', scale: 'n', stroke: css('--exit'), width: 2, points: { show: true, size: 6 }, value: num('') }]
    }, [xs, weeks.map(function (w) { return w.mean_asleep_h; }), weeks.map(function (w) { return w.mean_wakes; })]);
  }

  /* When cramps come: cramps by hour of the night; the legend rests on the busiest hour. */
  function crampHours(el, h) {
    var xs = h.hours.map(function (l, i) { return i; });
    function busiest(u) { var c = u.data[1], k = 0; for (var i = 1; i < c.length; i++) if (c[i] > c[k]) k = i; return c.length ? k : null; }
    return responsive(el, {
      height: 220, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] },
                y: { range: function (u, min, max) { return [0, Math.max(3, max || 0) * 1.15]; } } },
      axes: [axis({ values: function (u, v) { return v.map(function (i) { return (h.hours[i] || '').slice(0, 2); }); }, splits: everyFew(xs.length, 30) }),
             axis({ size: 36 })],
      series: [{ label: 'Hour', value: function (u, i) { return i == null ? '–' : h.hours[i]; } },
               { label: 'Cramps', width: 0, fill: css('--cramp'), stroke: css('--cramp'), points: { show: false },
                 paths: barPaths(), value: function (u, v) { return v == null ? '–' : String(v); } }]
    }, [xs, h.counts], busiest);
  }

  /* A night's movement (m from /api/v1/nights/<night>/movement), its sleep period shaded and each
     wake-up a band (cramps red), clock times in the configured zone. */
  function movement(el, m) {
    var fmt;
    try { fmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: m.tz }); }
    catch (e) { fmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }); }
    function clockOf(t) { return fmt.format(new Date(t * 1000)); }
    var bands = m.wakes.map(function (w) { return { start: w.start, end: w.end, cramp: w.cramp }; })
      .concat(m.cramps.map(function (c) { return { start: c.t - 60, end: c.t + 60, cramp: true }; }));
    var colours = { sleep: css('--sleep'), wake: css('--wake'), cramp: css('--cramp') };
    function shade(u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      function span(a, b, colour, alpha) {
        var x0 = u.valToPos(a, 'x', true), x1 = u.valToPos(b, 'x', true);
        ctx.globalAlpha = alpha; ctx.fillStyle = colour;
        ctx.fillRect(x0, top, Math.max(x1 - x0, 3 * devicePixelRatio), height);
      }
      ctx.save();
      if (m.sleep) span(m.sleep.start, m.sleep.end, colours.sleep, 0.12);
      bands.forEach(function (b) { span(b.start, b.end, b.cramp ? colours.cramp : colours.wake, 0.45); });
      ctx.restore();
    }
    var splits = [];
    for (var t = m.start; t <= m.end; t += 7200) splits.push(t);
    var plot = responsive(el, {
      height: 180, legend: { show: true }, cursor: { drag: { x: false, y: false } }, hooks: { drawClear: [shade] },
      scales: { x: { time: false, range: [m.start, m.end] }, y: { range: function (u, min, max) { return [0, (max || 1) * 1.1]; } } },
      axes: [axis({ values: function (u, v) { return v.map(function (x) { return clockOf(x).slice(0, 2); }); }, splits: function () { return splits; } }),
             { show: false }],
      series: [{ label: 'Time', value: function (u, v) { return v == null ? '–' : clockOf(v); } },
               { label: 'Movement', stroke: css('--muted'), width: 1.5, fill: css('--brand-soft'), points: { show: false },
                 value: function (u, v) { return v == null ? '–' : v.toFixed(2); } }]
    }, [m.points.map(function (p) { return p[0]; }), m.points.map(function (p) { return p[1]; })]);
    plot.cwBands = bands;
    return plot;
  }

  window.cwCharts = { today: today, bars: bars, sleepWeeks: sleepWeeks, crampHours: crampHours, movement: movement,
                      plots: plots };
})();
