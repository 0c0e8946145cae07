// Draws an exporter page spec and reports readiness in window.__exportReady:
//   false            drawing (or waiting for a spec)
//   true             every chart has drawn, after fonts were loaded
//   "error:<tiles>"  every chart has settled, and the named tiles drew an explicit error card
//   "failed:<why>"   the page itself could not be drawn (nothing usable on screen)
(function () {
  "use strict";

  var PLOT_CONFIG = { staticPlot: true, displayModeBar: false, responsive: false };
  var state = { pending: {}, errors: [], waiters: [] };

  function setReady(value) {
    window.__exportReady = value;
    var waiters = state.waiters;
    state.waiters = [];
    waiters.forEach(function (resolve) { resolve(value); });
  }

  function root() {
    return document.getElementById("export-root");
  }

  function clear() {
    var el = root();
    if (window.Plotly) {
      el.querySelectorAll(".js-plotly-plot").forEach(function (plot) { window.Plotly.purge(plot); });
    }
    el.innerHTML = "";
  }

  function drawChart(chart) {
    var el = document.getElementById(chart.id);
    return Promise.resolve()
      .then(function () {
        if (!el) { throw new Error("no element #" + chart.id); }
        return window.Plotly.newPlot(el, chart.data, chart.layout, PLOT_CONFIG);
      })
      .catch(function (err) {
        // An explicit error state instead of an empty box; the tile is named in the flag.
        state.errors.push(chart.tile);
        if (!el) { return; }
        try { window.Plotly.purge(el); } catch (ignored) { /* nothing drawn yet */ }
        el.textContent = "This chart could not be drawn: " + (err && err.message ? err.message : String(err));
        el.className = "chart chart-error";
      })
      .then(function () { settleChart(chart.tile); });
  }

  function settleChart(tile) {
    state.pending[tile] -= 1;
    if (state.pending[tile] <= 0) { delete state.pending[tile]; }
  }

  async function draw(spec) {
    setReady(false);
    state.pending = {};
    state.errors = [];
    clear();
    document.title = spec.title || "";
    document.body.style.width = spec.width + "px";
    root().innerHTML = spec.html;
    root().querySelectorAll("[data-tile]").forEach(function (el) { state.pending[el.dataset.tile] = 0; });
    spec.charts.forEach(function (chart) { state.pending[chart.tile] = (state.pending[chart.tile] || 0) + 1; });
    if (spec.neverReady) { return; }  // debug hook: lets tests exercise the renderer's time-out
    await document.fonts.ready;
    Object.keys(state.pending).forEach(function (tile) {
      if (state.pending[tile] === 0) { delete state.pending[tile]; }
    });
    await Promise.all(spec.charts.map(drawChart));
    await document.fonts.ready;  // SVG text drawn by plotly may have asked for more faces
    setReady(state.errors.length ? "error:" + state.errors.join(",") : true);
  }

  function start(url) {
    setReady(false);
    state.pending = { page: 1 };
    return fetch(url, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status + " for " + url); }
        return response.json();
      })
      .then(draw)
      .catch(function (err) { setReady("failed:" + (err && err.message ? err.message : String(err))); });
  }

  // Resolves with the flag as soon as it is set, or after `ms` with the current value.
  function waitReady(ms) {
    if (window.__exportReady !== false) { return Promise.resolve(window.__exportReady); }
    return new Promise(function (resolve) {
      state.waiters.push(resolve);
      setTimeout(function () { resolve(window.__exportReady); }, ms);
    });
  }

  function pending() {
    return Object.keys(state.pending);
  }

  // Page size and the rectangle of every tile, in CSS px from the top left of the document.
  function measure() {
    var el = root();
    var tiles = [];
    el.querySelectorAll("[data-tile-image]").forEach(function (tile) {
      var r = tile.getBoundingClientRect();
      tiles.push({
        key: tile.dataset.tile,
        x: r.left + window.scrollX,
        y: r.top + window.scrollY,
        width: r.width,
        height: r.height,
      });
    });
    return {
      width: Math.ceil(Math.max(el.scrollWidth, el.getBoundingClientRect().width)),
      height: Math.ceil(Math.max(el.scrollHeight, el.getBoundingClientRect().height)),
      tiles: tiles,
    };
  }

  window.__exportReady = false;
  window.exporter = { draw: draw, start: start, waitReady: waitReady, pending: pending, measure: measure };
})();
