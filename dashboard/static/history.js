/* History: the bar chart with the goal line. */
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', function () {
    var el = document.getElementById('history-chart');
    if (!el || !window.uPlot) return;
    cwCharts.bars(el, JSON.parse(document.getElementById('history-data').textContent));
  });
})();
