// Shared, embedded and viewer pages fit the window they are shown in: the exporter lays a page out for a width
// (a dashboard on PostHog's 1200 px grid); in a narrower window or iframe the drawn page is scaled down to fit,
// instead of being cut off or scrolled sideways. `?width=` lays it out for another width instead (on a small
// screen, a dashboard is asked for again at the screen's width).
(function () {
  "use strict";

  // A dashboard on a screen narrower than PostHog's breakpoint is asked for again at that width (`?width=`),
  // which lays its tiles out in one column, as PostHog does on small screens; below 320 px it is then scaled.
  var script = document.currentScript;
  var reflowBelow = Number(script && script.dataset.reflowBelow || 0);
  var room = document.documentElement.clientWidth;
  if (reflowBelow && room > 0 && room < reflowBelow) {
    var url = new URL(window.location.href);
    if (!url.searchParams.has("width")) {
      url.searchParams.set("width", String(Math.max(320, room)));
      window.location.replace(url.toString());
      return;
    }
  }

  function fit() {
    var page = document.getElementById("export-root");
    if (!page || !document.body) { return; }
    document.body.style.zoom = "";
    var natural = page.scrollWidth;
    var room = document.documentElement.clientWidth;
    if (natural > 0 && room > 0 && room < natural) { document.body.style.zoom = String(room / natural); }
    document.documentElement.dataset.fit = document.body.style.zoom || "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.exporter) { return; }
    window.exporter.waitReady(120000).then(fit);
    window.addEventListener("resize", fit);
  });
})();
