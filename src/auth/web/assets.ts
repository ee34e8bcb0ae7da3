// The web console's only static assets, embedded in the binary as strings: one stylesheet
// and one small script (copy-to-clipboard and the audit chart). No framework, no build step,
// nothing fetched from elsewhere (the pages' Content-Security-Policy allows 'self' only).

export const CONSOLE_CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: .6rem 1rem; display: flex; gap: 1.2rem; align-items: center; }
header a { color: #cfd8ff; text-decoration: none; }
header a.current { color: #fff; font-weight: 600; }
header .who { margin-left: auto; font-size: .85rem; color: #aab; }
main { padding: 1rem; max-width: 80rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e3e6ea; font-size: .9rem; }
th { background: #eef0f4; }
code, .mono { font-family: ui-monospace, monospace; font-size: .85rem; }
td.mono { word-break: break-all; }
form.inline { display: inline; }
form.filter { margin: .5rem 0 1rem; display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; }
label { font-size: .85rem; display: flex; flex-direction: column; gap: .2rem; }
button { cursor: pointer; }
button.danger { background: #b3261e; color: #fff; border: 0; padding: .3rem .7rem; border-radius: 3px; }
.pager { margin: .8rem 0; display: flex; gap: 1rem; }
.note { color: #555; font-size: .85rem; }
.ok { color: #1b6e20; } .bad { color: #b3261e; }
pre.cmd { background: #fff; border: 1px solid #ccd; padding: .6rem; white-space: pre-wrap; word-break: break-all; }
.key-joins { color: #1f6feb; } .key-renewals { color: #1b6e20; } .key-denials { color: #b3261e; }
svg.chart { background: #fff; border: 1px solid #e3e6ea; }
`;

export const CONSOLE_JS = `"use strict";
document.addEventListener("click", function (ev) {
  var t = ev.target;
  if (!(t instanceof HTMLElement) || !t.dataset.copy) return;
  var src = document.getElementById(t.dataset.copy);
  if (!src) return;
  var text = src.textContent || "";
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { t.textContent = "Copied"; });
});
`;
