// Draws an exporter page spec and reports readiness in window.__exportReady:
//   false            drawing (or waiting for a spec)
//   true             every chart has drawn, after fonts were loaded
//   "error:<tiles>"  every chart has settled, and the named tiles drew an explicit error card
//   "failed:<why>"   the page itself could not be drawn (nothing usable on screen)
(function () {
  "use strict";

  // Map shapes (world_110m.json) are served beside this script, so a world map never asks a CDN for them.
  var STATIC_BASE = (document.currentScript && document.currentScript.src || "").replace(/\/[^\/]*$/, "/");
  var PLOT_CONFIG = {
    staticPlot: true, displayModeBar: false, responsive: false, topojsonURL: STATIC_BASE + "topojson/",
  };
  var state = { pending: {}, errors: [], waiters: [] };

  function setReady(value) {
    window.__exportReady = value;
    if (value === false) { return; }  // waiters wait for a settled page, not for the start of a drawing
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
    document.documentElement.dataset.theme = spec.theme || "light";
    document.documentElement.style.background = spec.background || "";
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
    root().querySelectorAll(".tile").forEach(fitTile);
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

  // A dashboard tile has the height of its grid cell. Whatever does not fit is left out in whole items (legend
  // entries, rows, cohorts, funnel steps, table columns) and the tile says so ("+20 more series"), instead of
  // being cut off silently mid-digit.
  function overflowsDown(el) { return el.scrollHeight > el.clientHeight + 1; }
  function overflowsRight(el) { return el.scrollWidth > el.clientWidth + 1; }

  function describe(group) {
    var parts = [];
    var rows = Number(group.dataset.fitBase || 0) + Number(group.dataset.fitHidden || 0);
    var columns = Number(group.dataset.fitHiddenColumns || 0);
    if (rows) { parts.push("+" + rows.toLocaleString("en-US") + " more " + group.dataset.fitWord); }
    if (columns) { parts.push("+" + columns + " more " + group.dataset.fitColumnsWord); }
    var note = group.querySelector("[data-fit-note]");
    if (!note) { return; }
    var suffix = note.dataset.fitSuffix || "";
    if (!parts.length && !suffix) { return; }
    note.textContent = parts.join(" · ") + (parts.length ? suffix : suffix.replace(/^ · /, ""));
    note.hidden = false;
  }

  function fitColumns(group, box) {
    var table = group.querySelector("[data-fit-columns]");
    if (!table) { return; }
    var keep = Number(group.dataset.fitKeepColumns || 1);
    var rows = Array.from(table.rows);
    var count = rows.length ? rows[0].cells.length : 0;
    var hidden = 0;
    while (overflowsRight(box) && count - hidden > keep) {
      rows.forEach(function (row) { var cell = row.cells[count - 1 - hidden]; if (cell) { cell.hidden = true; } });
      hidden += 1;
      group.dataset.fitHiddenColumns = hidden;
      describe(group);
    }
  }

  function fitList(group, boxes) {
    var list = group.matches("[data-fit-list]") ? group : group.querySelector("[data-fit-list]");
    if (!list) { return; }
    var items = Array.from(list.children).filter(function (el) { return el.hasAttribute("data-fit-item"); });
    var hidden = 0;
    var cut = function () { return boxes.some(overflowsDown); };
    while (cut() && items.length - hidden > 1) {
      items[items.length - 1 - hidden].hidden = true;
      hidden += 1;
      group.dataset.fitHidden = hidden;
      describe(group);
    }
  }

  function fitTile(tile) {
    var body = tile.querySelector(".insight-body") || tile;  // a text card fits in the tile itself
    tile.querySelectorAll(".markdown[data-fit-list]").forEach(function (md) {
      Array.from(md.children).forEach(function (el) {
        if (!el.hasAttribute("data-fit-note")) { el.setAttribute("data-fit-item", ""); }
      });
    });
    tile.querySelectorAll("[data-fit]").forEach(function (group) {
      // A legend has its own height; tables and steps share the tile body (and may overflow their own box).
      var boxes = group.matches(".legend") ? [group] : [body, group];
      fitColumns(group, group.matches(".table-wrap") ? group : body);
      fitList(group, boxes);
    });
  }

  // Resolves with the flag as soon as it is set, or after `ms` with the current value.
  function waitReady(ms) {
    if (window.__exportReady !== false) { return Promise.resolve(window.__exportReady); }
    return new Promise(function (resolve) {
      state.waiters.push(resolve);
      setTimeout(function () { resolve(window.__exportReady); }, ms);
    });
  }

  // A render in one round trip: fetch and draw the spec, wait up to `ms` for the flag, and once it is set
  // measure the page too, so that the capture can follow at once.
  function run(url, ms) {
    start(url);
    return waitReady(ms).then(function (flag) {
      return { flag: flag, size: flag === false ? null : measure() };
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
  window.exporter = {
    draw: draw, start: start, run: run, waitReady: waitReady, pending: pending, measure: measure,
  };
})();
