/**
 * The dashboard's page: markup and style only; dist/dashboard/app.js (built
 * from packages/netboot/dashboard by tsc) does the rest.
 */
export const dashboardPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netboot: nodes</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg: #fff; --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --sel: #eef2ff; font: 13px/1.35 system-ui, sans-serif; }
  body { margin: 0; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  h1 { font-size: 1rem; margin: 0; }
  #counts { display: flex; gap: .4rem; flex-wrap: wrap; }
  .chip { padding: .1rem .5rem; border-radius: 999px; background: #f3f4f6; }
  .chip b { font-variant-numeric: tabular-nums; }
  #filter { margin-left: auto; padding: .25rem .4rem; min-width: 14rem; }
  #conn { color: var(--muted); }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); height: calc(100vh - 3rem); }
  #table { display: flex; flex-direction: column; min-height: 0; border-right: 1px solid var(--line); }
  .row { display: grid; grid-template-columns: 9.5rem 7.5rem 6rem 5rem 6.5rem minmax(14rem, 2fr) 2.5rem minmax(8rem, 1.2fr); gap: .4rem; align-items: center; height: 24px; padding: 0 .6rem; white-space: nowrap; overflow: hidden; border-bottom: 1px solid var(--line); box-sizing: border-box; cursor: pointer; }
  .row > span { overflow: hidden; text-overflow: ellipsis; }
  .head { font-weight: 600; background: #f9fafb; cursor: default; }
  .row.selected { background: var(--sel); }
  #viewport { overflow-y: auto; flex: 1; position: relative; min-height: 0; }
  #spacer { position: relative; }
  .stage { padding: 0 .35rem; border-radius: 3px; color: #fff; font-size: 12px; }
  .s-off { background: #9ca3af; } .s-dhcp { background: #0ea5e9; } .s-loader { background: #6366f1; } .s-kernel { background: #8b5cf6; }
  .s-mounted { background: #d97706; } .s-init { background: #65a30d; } .s-up { background: #16a34a; } .s-lost { background: #dc2626; }
  .err { color: #b91c1c; }
  #detail { overflow-y: auto; padding: .6rem 1rem; min-height: 0; }
  #detail h2 { font-size: .95rem; margin: .2rem 0 .5rem; }
  .wf { position: relative; border-left: 1px solid var(--line); margin: .5rem 0 1rem; }
  .wf-row { position: relative; height: 18px; }
  .wf-label { position: absolute; left: 0; width: 38%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: 12px; }
  .wf-track { position: absolute; left: 40%; right: 0; top: 3px; height: 12px; }
  .wf-bar { position: absolute; height: 12px; min-width: 2px; border-radius: 2px; }
  .w-dhcp { background: #0ea5e9; } .w-tftp { background: #8b5cf6; } .w-http { background: #a855f7; } .w-mount { background: #d97706; }
  .w-nfs { background: #65a30d; } .w-init { background: #16a34a; } .w-reboot { background: #dc2626; }
  .o-timeout, .o-error, .o-refused { outline: 2px solid #dc2626; }
  #log { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>netboot</h1>
  <div id="counts"></div>
  <span id="conn">connecting</span>
  <input id="filter" type="search" placeholder="filter: MAC, IP, name, stage">
</header>
<main>
  <section id="table">
    <div class="row head"><span>MAC</span><span>IP</span><span>name</span><span>firmware</span><span>stage</span><span>seconds per stage</span><span>boots</span><span>last error / doctor</span></div>
    <div id="viewport"><div id="spacer"></div></div>
  </section>
  <section id="detail"><p class="muted">Select a node to see the waterfall of its last boot and its event log.</p></section>
</main>
<script type="module" src="app.js"></script>
</body>
</html>
`;
