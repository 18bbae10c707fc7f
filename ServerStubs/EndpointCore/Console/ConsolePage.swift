/// The console's page and style sheet, shipped in the binary: no files to
/// install and nothing fetched from the internet. The page is a shell; the
/// script (ConsoleScript) fills it from the JSON API under /api/.
enum ConsolePage {
    static let html = #"""
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>camagent console</title>
    <link rel="stylesheet" href="/console/console.css">
    <script src="/console/console.js" defer></script>
    </head>
    <body>
    <header>
      <span class="brand">camagent console</span>
      <nav id="nav" hidden>
        <a href="#/cameras" data-page="cameras">Cameras</a>
        <a href="#/units" data-page="units">Factory units</a>
        <a href="#/streampoints" data-page="streampoints">Streampoints</a>
        <a href="#/audit" data-page="audit">Audit trail</a>
      </nav>
      <span id="who" hidden><span id="operator-name"></span> <button id="logout" type="button">Log out</button></span>
    </header>
    <main>
      <section id="page-login" class="page" hidden>
        <h1>Log in</h1>
        <form id="login-form" autocomplete="on">
          <label>Operator <input id="login-name" name="username" autocomplete="username" required maxlength="64"></label>
          <label>Password <input id="login-password" name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
          <button id="login-submit" type="submit">Log in</button>
        </form>
        <p id="login-error" class="error" role="alert"></p>
      </section>

      <section id="page-cameras" class="page" hidden>
        <h1>Cameras <span id="cameras-count" class="muted"></span></h1>
        <p class="muted">Filter each column; numbers take &gt;N or &lt;N. <button id="cameras-refresh" type="button">Refresh</button></p>
        <table id="cameras-table">
          <thead>
            <tr>
              <th>State</th><th>Agent id</th><th>Serial</th><th>Model</th><th>Firmware</th><th>Endpoint</th>
              <th>Streampoint</th><th>LAN address</th><th>Last seen</th><th>Bytes</th><th>Errors</th>
            </tr>
            <tr class="filters">
              <th><select data-filter="online"><option value="">all</option><option value="online">online</option><option value="offline">offline</option><option value="revoked">revoked</option></select></th>
              <th><input data-filter="id" placeholder="filter"></th>
              <th><input data-filter="serial" placeholder="filter"></th>
              <th><input data-filter="model" placeholder="filter"></th>
              <th><input data-filter="firmware" placeholder="filter"></th>
              <th><input data-filter="endpoint" placeholder="filter"></th>
              <th><input data-filter="streampoint" placeholder="filter"></th>
              <th><input data-filter="lan" placeholder="filter"></th>
              <th><input data-filter="lastSeen" placeholder="filter"></th>
              <th><input data-filter="bytes" placeholder="&gt;0"></th>
              <th><input data-filter="errors" placeholder="&gt;0"></th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </section>

      <section id="page-camera" class="page" hidden>
        <h1>Camera <span id="camera-id"></span> <span id="camera-state" class="badge"></span></h1>
        <div class="columns">
          <div>
            <h2>Agent</h2>
            <dl id="camera-fields"></dl>
          </div>
          <div>
            <h2>Latest report</h2>
            <dl id="camera-report"></dl>
            <table id="camera-counters"><thead><tr><th>Counter</th><th>Value</th></tr></thead><tbody></tbody></table>
          </div>
        </div>
        <h2>Commands</h2>
        <div class="actions">
          <button id="cmd-stats" type="button">Refresh report</button>
          <button id="cmd-reboot" type="button">Reboot</button>
          <span><button id="cmd-disconnect" type="button">Disconnect</button> for <input id="disconnect-seconds" type="number" min="0" max="3600" value="0"> s</span>
          <button id="cmd-reset" type="button">Reset (re-activate)</button>
        </div>
        <div class="actions">
          <label>Streampoint <select id="assign-main"></select></label>
          <label>Backup <select id="assign-backup"></select></label>
          <button id="cmd-assign" type="button">Switch streampoint</button>
        </div>
        <div class="actions">
          <label>Reason <input id="revoke-reason" maxlength="200" placeholder="reported stolen"></label>
          <button id="cmd-revoke" type="button">Revoke</button>
          <button id="cmd-unrevoke" type="button">Unrevoke</button>
        </div>
        <div class="actions">
          <label>Target <input id="viewer-target" maxlength="64" value="rtsp"></label>
          <span>valid <input id="viewer-ttl" type="number" min="60" max="86400" value="3600"> s</span>
          <button id="cmd-viewer-token" type="button">Viewer token</button>
        </div>
        <div class="actions">
          <label>Camera target <input id="media-target" maxlength="64" value="rtsp"></label>
          <label>RTSP path <input id="media-path" maxlength="255" placeholder="/Streaming/Channels/101"></label>
          <label>User <input id="media-username" maxlength="255" autocomplete="off"></label>
          <label>Password <input id="media-password" type="password" maxlength="255" autocomplete="new-password" placeholder="unchanged"></label>
          <button id="media-show" type="button">Show</button>
          <button id="media-save" type="button">Save camera settings</button>
          <button id="media-clear" type="button">Clear</button>
        </div>
        <h2>Result</h2>
        <p id="command-summary" class="summary"></p>
        <pre id="command-result"></pre>
      </section>

      <section id="page-units" class="page" hidden>
        <h1>Factory units <span id="units-count" class="muted"></span></h1>
        <form id="units-upload">
          <p>Import a provisioning CSV (header <code>agent_id,serial,activation_secret[,model][,mac]</code>), as <code>camagent-endpoint import-units</code> does: all rows or none.</p>
          <input id="units-file" type="file" accept=".csv,text/csv">
          <button id="units-submit" type="submit">Import</button>
        </form>
        <p id="units-result" class="summary"></p>
        <table id="units-table">
          <thead><tr><th>Serial</th><th>Agent id</th><th>Model</th><th>MAC</th><th>State</th><th>Activations</th><th>Last activation</th><th>Clone suspected</th><th>Online</th><th>Revoked</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>

      <section id="page-streampoints" class="page" hidden>
        <h1>Streampoints</h1>
        <table id="streampoints-table"><thead><tr></tr></thead><tbody></tbody></table>
      </section>

      <section id="page-audit" class="page" hidden>
        <h1>Audit trail</h1>
        <table id="audit-table">
          <thead><tr><th>Time (UTC)</th><th>Who</th><th>Action</th><th>Target</th><th>Result</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
      <p id="status" class="error" role="status"></p>
    </main>
    </body>
    </html>
    """#

    static let css = #"""
    :root { --fg: #1d232a; --muted: #6b7580; --line: #d8dde3; --accent: #1f5fbf; --ok: #1b7f3b; --bad: #b3261e; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7f9; }
    header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1em; background: #1d232a; color: #fff; }
    header a { color: #cfe0ff; text-decoration: none; margin-right: 1em; }
    header a.current { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
    .brand { font-weight: 700; }
    #who { margin-left: auto; }
    main { padding: 1em; }
    h1 { font-size: 1.4em; margin: .2em 0 .6em; }
    h2 { font-size: 1.1em; margin: 1em 0 .4em; }
    table { border-collapse: collapse; background: #fff; width: 100%; }
    th, td { border: 1px solid var(--line); padding: .3em .5em; text-align: left; vertical-align: top; }
    th { background: #eef1f4; }
    tr.filters input, tr.filters select { width: 100%; min-width: 4em; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    .online { color: var(--ok); font-weight: 600; }
    .offline { color: var(--muted); }
    .revoked { color: var(--bad); font-weight: 600; }
    .muted { color: var(--muted); font-weight: normal; }
    .error { color: var(--bad); }
    .summary { font-weight: 600; }
    .summary.ok { color: var(--ok); }
    .summary.failed { color: var(--bad); }
    .badge { font-size: .7em; padding: .1em .5em; border-radius: .8em; border: 1px solid currentColor; }
    .columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; margin: 0; }
    dt { color: var(--muted); }
    dd { margin: 0; word-break: break-all; }
    .actions { display: flex; flex-wrap: wrap; gap: .8em; align-items: center; margin: .5em 0; }
    button { padding: .3em .9em; border: 1px solid var(--accent); background: #fff; color: var(--accent); border-radius: 4px; cursor: pointer; }
    button:hover { background: var(--accent); color: #fff; }
    #page-login form { display: grid; gap: .6em; max-width: 20em; }
    #page-login input { width: 100%; padding: .3em; }
    pre { background: #fff; border: 1px solid var(--line); padding: .6em; overflow: auto; max-height: 20em; }
    input[type=number] { width: 5em; }
    """#
}
