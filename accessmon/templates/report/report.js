// The report's only hand-written script, kept this small on purpose. Tables are DataTables
// (itables) and charts plotly; this only joins them to the drill-downs: a link to a finding
// (`#f-<query>-<n>`) opens its <details> block of events, and so does a click on a chart bar,
// whose customdata carries that anchor. Works from file://, in a mail attachment and in
// JupyterLab (where the location's hash belongs to JupyterLab, so it is left alone there).
(function () {
  if (window.amReport) return;
  var inLab = function () { return !!document.querySelector(".jp-LabShell"); };
  function openFinding(id) {
    var el = document.getElementById(id);
    if (!el) return false;
    if (el.tagName === "DETAILS") el.open = true;
    el.scrollIntoView({ block: "start" });
    if (!inLab() && location.hash !== "#" + id) history.replaceState(null, "", "#" + id);
    return true;
  }
  function fromHash() {
    if (location.hash.length > 1) openFinding(decodeURIComponent(location.hash.slice(1)));
  }
  // Drill-down links open their block; in JupyterLab, contents and summary links scroll the
  // notebook to their section themselves, since the page's hash is JupyterLab's.
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest(".am-report a[href^='#']") : null;
    if (!a || !(a.classList.contains("am-drill") || inLab())) return;
    if (openFinding(a.getAttribute("href").slice(1))) e.preventDefault();
  }, true);
  function bind(gd) {
    if (gd.dataset.amBound) return true;
    if (typeof gd.on !== "function") return false;
    gd.dataset.amBound = "1";
    gd.on("plotly_click", function (ev) {
      var p = ev && ev.points && ev.points[0];
      var id = p && p.customdata && p.customdata[0];
      if (id) openFinding(String(id));
    });
    return true;
  }
  // Plotly draws asynchronously in JupyterLab: try again for a few seconds.
  function bindCharts(tries) {
    var pending = 0;
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) { if (!bind(gd)) pending++; });
    if (pending && tries > 0) setTimeout(function () { bindCharts(tries - 1); }, 300);
  }
  window.addEventListener("hashchange", fromHash);
  window.addEventListener("load", function () { bindCharts(10); fromHash(); });
  window.amReport = { openFinding: openFinding, bindCharts: bindCharts };
})();
