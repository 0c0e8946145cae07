// <posthog-insight share="TOKEN" theme="dark"> and <posthog-dashboard share="TOKEN">: a share link drawn inside
// another site's page, without an iframe and without any library of the page's own.
//
// The element fetches the link's `.json` form with `draw=1` (the exporter page's HTML and each chart's plotly data
// and layout, built by the service exactly as for its own pages) and draws it in its shadow root with the plotly.js
// this service serves (nothing comes from a CDN). Attributes: share (the token), theme (light|dark), width (CSS px;
// default: the element's width), legend="0", no-header. When it has drawn, `el.ready` is true and the element's
// `data-ready` attribute says "true" (or "error:<tiles>" / "failed:<why>"), and it fires `posthog-ready`.
(function () {
  "use strict";
  if (window.customElements.get("posthog-insight")) { return; }  // the script was included twice

  var SCRIPT = document.currentScript;
  var BASE = ((SCRIPT && SCRIPT.src) || "").replace(/\/embed\.js(\?.*)?$/, "");
  var ASSETS = __ASSETS__;  // the exporter's own stylesheet and plotly.js, at their current versions
  var TOKEN = /^[A-Za-z0-9_-]{20,100}$/;
  var STYLE = [
    ":host { display: block; max-width: 100%; overflow-x: auto; font-feature-settings: 'tnum' 1;",
    "  font-family: 'Inter', 'Noto Sans', 'Noto Sans CJK SC', 'Noto Color Emoji', sans-serif; }",
    // What plotly puts in the document's head does not reach a shadow root: its layering of the SVG layers.
    ".js-plotly-plot .plotly .svg-container { position: relative; }",
    ".js-plotly-plot .plotly .main-svg { position: absolute; top: 0; left: 0; pointer-events: none; }",
    ".tile { overflow: hidden; }",
    ".pe-message { font: 14px/1.5 Inter, 'Noto Sans', sans-serif; color: #5f6370; padding: 16px;",
    "  border: 1px solid #e6e7eb; border-radius: 8px; }",
  ].join("\n");
  var HIDE_HEADER = ".dashboard-header, .insight-header { display: none !important; }";
  var HIDE_LEGEND = ".legend { display: none !important; }";
  var plotly = null;

  function loadPlotly() {
    if (window.Plotly) { return Promise.resolve(window.Plotly); }
    if (!plotly) {
      plotly = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = BASE + ASSETS.plotly;
        script.async = true;
        script.onload = function () {
          if (window.Plotly) { resolve(window.Plotly); } else { reject(new Error("plotly.js did not load")); }
        };
        script.onerror = function () { plotly = null; reject(new Error("plotly.js could not be loaded")); };
        document.head.appendChild(script);
      });
    }
    return plotly;
  }

  function stylesheet(root) {
    return new Promise(function (resolve) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = BASE + ASSETS.css;
      link.onload = link.onerror = function () { resolve(); };  // unstyled is still better than nothing
      root.appendChild(link);
    });
  }

  function drawChart(Plotly, root, chart, errors) {
    var el = root.getElementById(chart.id);
    var config = { staticPlot: true, displayModeBar: false, responsive: false,
                   topojsonURL: BASE + ASSETS.topojson };
    return Promise.resolve()
      .then(function () {
        if (!el) { throw new Error("no element #" + chart.id); }
        return Plotly.newPlot(el, chart.data, chart.layout, config);
      })
      .catch(function (err) {
        errors.push(chart.tile);
        if (el) {
          el.textContent = "This chart could not be drawn: " + (err && err.message ? err.message : String(err));
          el.className = "chart chart-error";
        }
      });
  }

  function explain(status) {
    if (status === 404) { return "This share link does not work: it may have been turned off or have expired."; }
    if (status === 401) { return "This share link has a password: it can only be opened as a page."; }
    if (status === 429) { return "This share link is busy. Try again in a minute."; }
    return "This content cannot be shown right now. Try again in a minute.";
  }

  class PostHogContent extends HTMLElement {
    static get observedAttributes() { return ["share", "theme", "width", "legend", "no-header"]; }

    connectedCallback() { this.draw(); }

    attributeChangedCallback() { if (this.isConnected) { this.draw(); } }

    settle(value) {
      this.ready = value === true;
      this.setAttribute("data-ready", String(value));
      this.dispatchEvent(new CustomEvent("posthog-ready", { detail: { ready: value }, bubbles: true }));
    }

    message(root, text, why) {
      root.innerHTML = "";
      var style = document.createElement("style");
      style.textContent = STYLE;
      var p = document.createElement("p");
      p.className = "pe-message";
      p.textContent = text;  // never markup
      root.append(style, p);
      this.settle("failed:" + why);
    }

    draw() {
      var self = this;
      var run = (this._run = (this._run || 0) + 1);
      var root = this.shadowRoot;
      if (!root) {
        // Styled as a block at once, so that its width (the default drawing width) can be measured.
        root = this.attachShadow({ mode: "open" });
        var first = document.createElement("style");
        first.textContent = STYLE;
        root.appendChild(first);
      }
      this.ready = false;
      this.setAttribute("data-ready", "false");
      var token = (this.getAttribute("share") || "").trim();
      if (!TOKEN.test(token)) { this.message(root, "This is not a share link's token.", "token"); return; }
      var query = new URLSearchParams({ draw: "1" });
      var theme = this.getAttribute("theme");
      if (theme) { query.set("theme", theme); }
      var width = Number(this.getAttribute("width")) || Math.round(this.getBoundingClientRect().width);
      if (width >= 320) { query.set("width", String(Math.min(width, 3200))); }
      var url = BASE + "/embedded/" + token + ".json?" + query.toString();
      var answer = fetch(url, { credentials: "omit", cache: "no-store" }).then(function (response) {
        return response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status));
      });
      Promise.all([answer, loadPlotly()])
        .then(function (got) {
          if (run !== self._run) { return null; }  // attributes changed meanwhile: a newer drawing is on its way
          var spec = got[0].page;
          root.innerHTML = "";
          var style = document.createElement("style");
          style.textContent = STYLE + (self.hasAttribute("no-header") ? HIDE_HEADER : "")
            + (self.getAttribute("legend") === "0" ? HIDE_LEGEND : "");
          var holder = document.createElement("div");
          holder.className = "pe-root";
          holder.style.width = spec.width + "px";
          holder.innerHTML = spec.html;  // escaped by the service's templates
          root.append(style);
          return stylesheet(root).then(function () {
            root.appendChild(holder);
            var errors = [];
            return Promise.all(spec.charts.map(function (chart) { return drawChart(got[1], root, chart, errors); }))
              .then(function () { return document.fonts ? document.fonts.ready : null; })
              .then(function () { if (run === self._run) { self.settle(errors.length ? "error:" + errors : true); } });
          });
        })
        .catch(function (err) {
          if (run !== self._run) { return; }
          var status = Number(String(err && err.message).replace("HTTP ", "")) || 0;
          self.message(root, explain(status), status ? "HTTP " + status : String(err && err.message));
        });
    }
  }

  window.customElements.define("posthog-insight", class extends PostHogContent {});
  window.customElements.define("posthog-dashboard", class extends PostHogContent {});
})();
