"""The stylesheet and script that report.py inlines into report.html (no external resources)."""

CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --bad: #b3261e; --bad-bg: #fdecea;
        --ok: #1e6b34; --head: #f3f4f6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       sans-serif; color: var(--fg); background: #fff; }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); background: #fafbfc; }
h1 { margin: 0 0 8px; font-size: 22px; }
h2 { font-size: 17px; margin: 26px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
main { padding: 0 28px 40px; }
code { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
nav { margin-top: 10px; font-size: 13px; }
nav a { color: #0b57d0; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.note { color: var(--muted); font-size: 13px; }
.ok { color: var(--ok); }
.bad { color: var(--bad); font-weight: 600; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 14px; }
figure { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
figure svg { display: block; width: 100%; height: auto; }
.table-wrap { overflow-x: auto; }
table.sortable { border-collapse: collapse; font-size: 12px; width: 100%; }
table.sortable th, table.sortable td { padding: 4px 6px; border-bottom: 1px solid var(--line);
    text-align: left; vertical-align: top; white-space: nowrap; }
table.sortable th { position: sticky; top: 0; background: var(--head); cursor: pointer;
    white-space: nowrap; user-select: none; z-index: 1; }
table.sortable th.nosort { cursor: default; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
table.sortable td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable td.params { font: 12px ui-monospace, "DejaVu Sans Mono", monospace;
    white-space: normal; min-width: 110px; max-width: 200px; overflow-wrap: break-word; }
table.sortable tbody tr:hover { background: #f5f8ff; }
tr.run-failed { background: var(--bad-bg); }
tr.run-failed td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
tr.run-failed:hover { background: #fadcd8 !important; }
.error { color: var(--bad); font: 12px ui-monospace, "DejaVu Sans Mono", monospace;
    white-space: pre-wrap; overflow-wrap: break-word; min-width: 150px; max-width: 360px; }
details summary { cursor: pointer; font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
details dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 1px 10px;
    margin: 6px 0 2px; font-size: 12px; width: 460px; white-space: normal; }
details dt { color: var(--muted); }
details dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.none { color: #9aa0a6; font-style: italic; font-family: system-ui, sans-serif; }
.qblocks { display: grid; grid-template-columns: repeat(auto-fill, minmax(700px, 1fr)); gap: 14px; }
.qblock figcaption { display: flex; align-items: center; gap: 10px; font-weight: 600; margin-bottom: 6px; }
table.qgrid { border-collapse: collapse; }
table.qgrid th.who { text-align: left; font-weight: normal; font-size: 12px; line-height: 1.3;
    padding: 3px 10px 3px 0; vertical-align: middle; width: 200px; max-width: 200px;
    overflow-wrap: anywhere; }
table.qgrid th.who code { font-size: 11px; }
table.qgrid .params { font: 11px ui-monospace, "DejaVu Sans Mono", monospace; color: var(--muted); }
table.qgrid .rc { color: var(--muted); }
td.strip { white-space: nowrap; padding: 1px 0; }
/* Thumbnails: 28x28 images scaled up with hard pixels; dashed red marks a miss without colour. */
.qi { display: inline-block; width: 46px; height: 46px; margin: 1px; vertical-align: middle;
    background-color: #000; background-size: 100% 100%; background-origin: content-box;
    background-clip: content-box; image-rendering: pixelated; border: 3px solid transparent; }
.qi.hit { border-color: #1e8e3e; }
.qi.miss { border: 3px dashed #d93025; }
.qi.truth { border-color: #c4c7cc; }
.qi.query { width: 62px; height: 62px; border-color: var(--fg); }
.qi.empty { background-color: #f3f4f6; }
.hit-key { color: #1e8e3e; font-weight: 600; }
.miss-key { color: #d93025; font-weight: 600; }
"""

# Click (or Enter on) a header to sort by it, again to reverse; #sort=KEY / #sort=-KEY in the
# address sorts on load. Numeric columns compare the data-v value (empty cells last either way);
# text columns compare numerically-aware, so "ivf-10" comes after "ivf-9" (a cell's data-v, when
# present, is its sort key). Ties keep the previous order (the sort is stable).
SCRIPT = """
(function () {
  'use strict';
  var table = document.getElementById('runs');
  if (!table) { return; }
  var wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  table.parentNode.insertBefore(wrap, table);
  wrap.appendChild(table);
  var headers = table.tHead.rows[0].cells;
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: 'base'});
  function key(row, index, numeric) {
    var cell = row.cells[index];
    if (numeric) {
      var text = cell.getAttribute('data-v');
      return text === null || text === '' ? null : parseFloat(text);
    }
    var value = cell.hasAttribute('data-v') ? cell.getAttribute('data-v') : cell.textContent.trim();
    return value === '' ? null : value;
  }
  function sortBy(index, direction) {
    var th = headers[index];
    var numeric = th.getAttribute('data-kind') === 'num';
    var ascending = direction ? direction === 'ascending' : th.getAttribute('aria-sort') !== 'ascending';
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute('aria-sort'); }
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, position) {
      return {row: row, key: key(row, index, numeric), position: position};
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.position - b.position; }
        return a.key === null ? 1 : -1;
      }
      var c = numeric ? a.key - b.key : collator.compare(a.key, b.key);
      if (c === 0 || isNaN(c)) { return a.position - b.position; }
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }
  Array.prototype.forEach.call(headers, function (th, index) {
    if (th.classList.contains('nosort')) { return; }
    th.addEventListener('click', function () { sortBy(index); });
    th.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); sortBy(index); }
    });
  });
  // report.html#sort=qps (ascending) or #sort=-qps (descending): a link to a sorted table.
  var wanted = /^#sort=(-?)([\\w-]+)$/.exec(window.location.hash);
  if (wanted) {
    Array.prototype.forEach.call(headers, function (th, index) {
      if (th.getAttribute('data-key') === wanted[2]) {
        sortBy(index, wanted[1] ? 'descending' : 'ascending');
      }
    });
  }
}());
"""
