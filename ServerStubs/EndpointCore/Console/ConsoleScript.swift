/// The console's script. It talks only to the JSON API under /api/ with the
/// session cookie, and sends the session's CSRF token in X-CSRF-Token on every
/// state-changing request. Peer-supplied text (ids, models, messages) goes into
/// the page through textContent only, never as HTML.
enum ConsoleScript {
    static let js = #"""
    "use strict";
    (function () {
      const state = { operator: null, csrf: null, agents: [], streampoints: [] };
      const $ = (sel) => document.querySelector(sel);

      function el(tag, text, cls) {
        const node = document.createElement(tag);
        if (text !== undefined && text !== null) node.textContent = String(text);
        if (cls) node.className = cls;
        return node;
      }

      function status(message) { $("#status").textContent = message || ""; }

      async function api(method, path, body, contentType) {
        const headers = { "Accept": "application/json" };
        if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = state.csrf || "";
        let payload;
        if (body !== undefined) {
          if (contentType) { headers["Content-Type"] = contentType; payload = body; }
          else { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
        }
        const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
        let data = null;
        const text = await response.text();
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
        if (response.status === 401 && path !== "/console/login") { showLogin("Your session ended; log in again."); }
        return { status: response.status, ok: response.ok, data };
      }

      function errorText(result) {
        const d = result.data;
        if (d && typeof d.error === "string") return d.error;
        if (d && d.error && d.error.message) return d.error.message;
        return "HTTP " + result.status;
      }

      // ---- login ----
      function showLogin(message) {
        state.operator = null; state.csrf = null;
        $("#nav").hidden = true; $("#who").hidden = true;
        showPage("login");
        $("#login-error").textContent = message || "";
      }

      async function login(event) {
        event.preventDefault();
        const name = $("#login-name").value, password = $("#login-password").value;
        const result = await api("POST", "/console/login", { name, password });
        $("#login-password").value = "";
        if (!result.ok) { $("#login-error").textContent = errorText(result); return; }
        signedIn(result.data);
        if (!location.hash || location.hash === "#/login") location.hash = "#/cameras"; else route();
      }

      function signedIn(session) {
        state.operator = session.operator; state.csrf = session.csrfToken;
        $("#operator-name").textContent = session.operator;
        $("#nav").hidden = false; $("#who").hidden = false;
      }

      async function logout() {
        await api("POST", "/console/logout");
        showLogin("Logged out.");
      }

      // ---- pages ----
      function showPage(name) {
        for (const page of document.querySelectorAll(".page")) page.hidden = page.id !== "page-" + name;
        for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("current", link.dataset.page === name);
        document.body.dataset.page = name;
      }

      async function route() {
        status("");
        if (!state.operator) { showLogin(); return; }
        const hash = location.hash || "#/cameras";
        const parts = hash.slice(2).split("/");
        try {
          if (parts[0] === "camera" && parts[1]) await cameraPage(decodeURIComponent(parts[1]));
          else if (parts[0] === "units") await unitsPage();
          else if (parts[0] === "streampoints") await streampointsPage();
          else if (parts[0] === "audit") await auditPage();
          else await camerasPage();
        } catch (e) {
          status("Cannot reach the endpoint: " + e);
        }
        document.body.dataset.ready = hash;
      }

      // Counters summed for the list's columns.
      const byteCounters = ["bytesToStreampoint", "bytesFromStreampoint"];
      const errorCounters = ["protocolErrors", "tunnelsFailed", "controlConnectFailures", "targetConnectFailures", "bufferOverruns"];
      function sum(counters, names) {
        if (!counters) return null;
        return names.reduce((total, name) => total + (counters[name] || 0), 0);
      }

      function row(agent) {
        const stats = agent.stats || null;
        return {
          agent,
          online: agent.revoked ? "revoked" : (agent.online ? "online" : "offline"),
          id: agent.id,
          serial: agent.serial || "",
          model: agent.model || "",
          firmware: [agent.software, agent.buildTarget].filter(Boolean).join(" "),
          endpoint: stats ? stats.endpoint : "",
          streampoint: agent.currentStreampoint || agent.streampoint || "",
          lan: stats && stats.localAddress ? stats.localAddress : "",
          lastSeen: agent.lastSeen || "",
          bytes: stats ? sum(stats.counters, byteCounters) : null,
          errors: stats ? sum(stats.counters, errorCounters) : null,
        };
      }

      function matches(value, filter) {
        if (!filter) return true;
        const f = filter.trim();
        const m = /^([<>]=?)\s*(\d+)$/.exec(f);
        if (m) {
          if (value === null || value === undefined || value === "") return false;
          const n = Number(value), limit = Number(m[2]);
          return m[1] === ">" ? n > limit : m[1] === ">=" ? n >= limit : m[1] === "<" ? n < limit : n <= limit;
        }
        return String(value === null ? "" : value).toLowerCase().includes(f.toLowerCase());
      }

      async function loadAgents() {
        const result = await api("GET", "/api/agents?include=stats");
        if (!result.ok) { status(errorText(result)); return []; }
        const agents = result.data || [];
        // An API without include=stats: fetch each online agent's report (bounded).
        const missing = agents.filter((a) => a.online && !("stats" in a)).slice(0, 200);
        for (let i = 0; i < missing.length; i += 8) {
          await Promise.all(missing.slice(i, i + 8).map(async (a) => {
            const one = await api("GET", "/api/agents/" + encodeURIComponent(a.id));
            if (one.ok) a.stats = one.data.stats;
          }));
        }
        return agents;
      }

      async function camerasPage() {
        showPage("cameras");
        state.agents = await loadAgents();
        renderCameras();
      }

      function renderCameras() {
        const filters = {};
        for (const input of document.querySelectorAll("#cameras-table [data-filter]")) filters[input.dataset.filter] = input.value;
        const tbody = $("#cameras-table tbody");
        tbody.replaceChildren();
        const rows = state.agents.map(row).filter((r) => Object.keys(filters).every((key) =>
          key === "online" ? (!filters.online || r.online === filters.online) : matches(r[key], filters[key])));
        for (const r of rows) {
          const tr = el("tr");
          tr.dataset.agent = r.id;
          tr.appendChild(el("td", r.online, "state " + r.online));
          const idCell = el("td");
          const link = el("a", r.id);
          link.href = "#/camera/" + encodeURIComponent(r.id);
          idCell.appendChild(link);
          tr.appendChild(idCell);
          for (const key of ["serial", "model", "firmware", "endpoint", "streampoint", "lan", "lastSeen"]) tr.appendChild(el("td", r[key], key));
          tr.appendChild(el("td", r.bytes === null ? "" : r.bytes.toLocaleString("en"), "num bytes"));
          tr.appendChild(el("td", r.errors === null ? "" : r.errors, "num errors"));
          tbody.appendChild(tr);
        }
        $("#cameras-count").textContent = rows.length + " of " + state.agents.length;
      }

      function fill(dl, pairs) {
        dl.replaceChildren();
        for (const [name, value] of pairs) {
          dl.appendChild(el("dt", name));
          dl.appendChild(el("dd", value === null || value === undefined || value === "" ? "\u2014" : value));
        }
      }

      let currentAgent = null;
      async function cameraPage(id) {
        showPage("camera");
        currentAgent = id;
        $("#command-summary").textContent = ""; $("#command-summary").className = "summary";
        $("#command-result").textContent = "";
        const [one, sps] = await Promise.all([api("GET", "/api/agents/" + encodeURIComponent(id)), api("GET", "/api/streampoints")]);
        if (!one.ok) { status(errorText(one)); return; }
        state.streampoints = sps.ok && Array.isArray(sps.data) ? sps.data : [];
        renderCamera(one.data);
      }

      function renderCamera(agent) {
        $("#camera-id").textContent = agent.id;
        const badge = $("#camera-state");
        const label = agent.revoked ? "revoked" : (agent.online ? "online" : "offline");
        badge.textContent = label; badge.className = "badge " + label;
        fill($("#camera-fields"), [
          ["Serial", agent.serial], ["Model", agent.model], ["MAC", agent.mac],
          ["Firmware", agent.software], ["Build", agent.buildTarget],
          ["Assigned streampoint", agent.streampoint], ["Backup", agent.backupStreampoint],
          ["Current streampoint", agent.currentStreampoint], ["Streampoint link", agent.streampointState],
          ["Remote address", agent.remoteAddress], ["Last seen", agent.lastSeen],
          ["Revoked", agent.revoked ? agent.revoked.reason + (agent.revoked.at ? " (" + agent.revoked.at + ")" : "") : "no"],
        ]);
        const stats = agent.stats;
        fill($("#camera-report"), stats ? [
          ["Received", stats.receivedAt], ["Reason", stats.reason], ["Uptime (s)", stats.uptimeSeconds],
          ["Since change (s)", stats.secondsSinceChange], ["Endpoint", stats.endpoint],
          ["Streampoint", stats.streampoint], ["Streampoint link", stats.streampointState], ["LAN address", stats.localAddress],
        ] : [["Report", "none yet"]]);
        const tbody = $("#camera-counters tbody");
        tbody.replaceChildren();
        for (const name of Object.keys(stats ? stats.counters : {}).sort()) {
          const tr = el("tr");
          tr.appendChild(el("td", name));
          tr.appendChild(el("td", stats.counters[name], "num"));
          tbody.appendChild(tr);
        }
        const ids = state.streampoints.map((sp) => sp.id || sp.name).filter(Boolean);
        for (const [select, current, blank] of [[$("#assign-main"), agent.streampoint, false], [$("#assign-backup"), agent.backupStreampoint, true]]) {
          select.replaceChildren();
          if (blank) select.appendChild(el("option", "(automatic)"));
          if (blank) select.lastChild.value = "";
          for (const id of ids) { const o = el("option", id); o.value = id; o.selected = id === current; select.appendChild(o); }
        }
      }

      function showResult(action, result) {
        const d = result.data || {};
        const summary = $("#command-summary");
        let text;
        if (typeof d.ok === "boolean") text = "COMMAND_RESULT " + (d.ok ? "ok" : "failed") + ": " + (d.message || "");
        else if (result.ok) text = action + ": done";
        else text = action + ": " + errorText(result);
        summary.textContent = text + " (HTTP " + result.status + ")";
        summary.className = "summary " + (result.ok && d.ok !== false ? "ok" : "failed");
        summary.dataset.action = action;
        summary.dataset.status = String(result.status);
        $("#command-result").textContent = JSON.stringify(d, null, 2);
      }

      async function command(action, path, body) {
        if (!currentAgent) return;
        $("#command-summary").textContent = action + "\u2026"; $("#command-summary").className = "summary";
        const result = await api("POST", "/api/agents/" + encodeURIComponent(currentAgent) + "/" + path, body);
        showResult(action, result);
        const fresh = await api("GET", "/api/agents/" + encodeURIComponent(currentAgent));
        if (fresh.ok) renderCamera(fresh.data);
      }

      // How streampoints pull a camera target. The password is sent, never shown
      // back (the answer has only hasPassword), and the field is emptied at once.
      async function cameraMedia(method) {
        if (!currentAgent) return;
        const target = $("#media-target").value || "rtsp";
        const path = "/api/agents/" + encodeURIComponent(currentAgent) + "/targets/" + encodeURIComponent(target) + "/media";
        let body;
        if (method === "PUT") {
          body = {};
          if ($("#media-path").value) body.path = $("#media-path").value;
          if ($("#media-username").value) body.username = $("#media-username").value;
          if ($("#media-password").value) body.password = $("#media-password").value;
        }
        $("#media-password").value = "";
        const result = await api(method, path, body);
        showResult("camera settings", result);
        if (result.ok && result.data) {
          $("#media-path").value = result.data.path || "";
          $("#media-username").value = result.data.username || "";
          $("#media-password").placeholder = result.data.hasPassword ? "unchanged" : "none set";
        }
      }

      // ---- factory units ----
      async function unitsPage() {
        showPage("units");
        const result = await api("GET", "/api/units");
        if (!result.ok) { status(errorText(result)); return; }
        const units = result.data || [];
        const tbody = $("#units-table tbody");
        tbody.replaceChildren();
        for (const u of units) {
          const tr = el("tr");
          tr.dataset.serial = u.serial;
          for (const value of [u.serial, u.agentID, u.model, u.mac, u.state, u.activations, u.lastActivation,
                               u.cloneSuspected ? "yes" : "no", u.online ? "online" : "offline", u.revoked ? u.revoked.reason : ""]) {
            tr.appendChild(el("td", value === null || value === undefined ? "" : value));
          }
          tbody.appendChild(tr);
        }
        $("#units-count").textContent = units.length + " units";
      }

      async function uploadUnits(event) {
        event.preventDefault();
        const file = $("#units-file").files[0];
        const out = $("#units-result");
        if (!file) { out.textContent = "Choose a CSV file first."; out.className = "summary failed"; return; }
        const text = await file.text();
        const result = await api("POST", "/api/units", text, "text/csv");
        out.textContent = result.ok ? "Imported " + (result.data.imported !== undefined ? result.data.imported : "") + " units." : "Import refused: " + errorText(result);
        out.className = "summary " + (result.ok ? "ok" : "failed");
        if (result.ok) await unitsPage();
      }

      // ---- streampoints ----
      function flatten(object, prefix, into) {
        for (const [key, value] of Object.entries(object)) {
          if (value && typeof value === "object" && !Array.isArray(value)) flatten(value, prefix + key + ".", into);
          else into[prefix + key] = value;
        }
        return into;
      }

      async function streampointsPage() {
        showPage("streampoints");
        const result = await api("GET", "/api/streampoints");
        if (!result.ok) { status(errorText(result)); return; }
        const rows = (Array.isArray(result.data) ? result.data : []).map((sp) => flatten(sp, "", {}));
        // The endpoint's view first, then what the streampoint reports over its channel.
        const columns = ["id", "connected", "host", "port", "tls", "name", "remoteAddress", "connectedAt",
                         "load.agents", "load.tunnels", "load.viewers", "load.bytesToViewers", "load.bytesFromViewers", "loadReceivedAt"]
          .filter((key) => rows.some((r) => key in r));
        for (const r of rows) for (const key of Object.keys(r)) if (!columns.includes(key)) columns.push(key);
        const head = $("#streampoints-table thead tr");
        head.replaceChildren(...columns.map((c) => el("th", c)));
        const tbody = $("#streampoints-table tbody");
        tbody.replaceChildren();
        for (const r of rows) {
          const tr = el("tr");
          tr.dataset.streampoint = r.id || r.name || "";
          for (const c of columns) tr.appendChild(el("td", r[c] === null || r[c] === undefined ? "" : r[c], typeof r[c] === "number" ? "num" : ""));
          tbody.appendChild(tr);
        }
        if (rows.length === 0) tbody.appendChild(el("tr")).appendChild(el("td", "no streampoints"));
      }

      // ---- audit ----
      async function auditPage() {
        showPage("audit");
        const result = await api("GET", "/api/audit?limit=500");
        if (!result.ok) { status(errorText(result)); return; }
        const tbody = $("#audit-table tbody");
        tbody.replaceChildren();
        for (const entry of result.data || []) {
          const tr = el("tr");
          tr.dataset.action = entry.action;
          for (const value of [entry.at, entry.actor, entry.action, entry.target, entry.result]) tr.appendChild(el("td", value));
          tbody.appendChild(tr);
        }
      }

      // ---- wiring ----
      document.addEventListener("DOMContentLoaded", async () => {
        $("#login-form").addEventListener("submit", login);
        $("#logout").addEventListener("click", logout);
        $("#cameras-refresh").addEventListener("click", camerasPage);
        for (const input of document.querySelectorAll("#cameras-table [data-filter]")) input.addEventListener("input", renderCameras);
        $("#cmd-stats").addEventListener("click", () => command("stats", "stats"));
        $("#cmd-reboot").addEventListener("click", () => command("reboot", "reboot"));
        $("#cmd-disconnect").addEventListener("click", () => command("disconnect", "disconnect", { seconds: Number($("#disconnect-seconds").value || 0) }));
        $("#cmd-reset").addEventListener("click", () => { if (confirm("Reset " + currentAgent + "? It drops its identity and activates again.")) command("reset", "reset"); });
        $("#cmd-assign").addEventListener("click", () => {
          const body = { streampoint: $("#assign-main").value };
          if ($("#assign-backup").value) body.backup = $("#assign-backup").value;
          command("switch streampoint", "streampoint", body);
        });
        $("#cmd-revoke").addEventListener("click", () => command("revoke", "revoke", { reason: $("#revoke-reason").value || "revoked in the console" }));
        $("#cmd-unrevoke").addEventListener("click", () => command("unrevoke", "unrevoke"));
        // The answer (token and URL paths) shows in the result box; it is not kept anywhere else.
        $("#cmd-viewer-token").addEventListener("click", () => command("viewer token", "viewer-token",
          { target: $("#viewer-target").value || "rtsp", ttl_seconds: Number($("#viewer-ttl").value || 3600) }));
        $("#media-show").addEventListener("click", () => cameraMedia("GET"));
        $("#media-save").addEventListener("click", () => cameraMedia("PUT"));
        $("#media-clear").addEventListener("click", () => cameraMedia("DELETE"));
        $("#units-upload").addEventListener("submit", uploadUnits);
        window.addEventListener("hashchange", route);
        const session = await api("GET", "/console/session");
        if (session.ok) signedIn(session.data);
        route();
      });
    })();
    """#
}
