// The live player served at /play/<agent-id>/<target>?token=…: one HTML page with
// its style and plain JavaScript inline (no external assets), playing the
// WebSocket at /live/<agent-id>/<target>?token=… (same host, ws or wss after the
// page's scheme) through Media Source Extensions. The messages it expects are in
// LivePlayerProtocol.
//
// Behaviour: autoplays muted; checks MediaSource.isTypeSupported and says in
// words when the browser cannot play the camera's codec (then closes the socket
// and does not retry: reload to try again); reconnects with backoff (0.5 s
// doubling to 10 s); jumps to the live edge when more than 1.5 s behind, and
// plays slightly fast beyond 0.8 s; keeps at most ~20 s of buffer behind the
// playhead; queues at most 250 segments or 16 MiB while the SourceBuffer is busy
// or not yet open (enough for a GOP cache's burst at connect), then drops until
// the next keyframe segment. The page exposes its state for tests and
// monitoring in body[data-state] (connecting, streaming, reconnecting,
// unsupported) and in #codec, #resolution, #latency, #status, #message.

public enum PlayerPage {
    /// Serve with `contentSecurityPolicy`: the script and style are inline.
    public static let html: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camagent live</title>
<style>
html, body { margin: 0; height: 100%; background: #111; color: #ddd; font: 14px system-ui, sans-serif; }
body { display: flex; flex-direction: column; }
#stage { position: relative; flex: 1; min-height: 0; background: #000; }
#video { width: 100%; height: 100%; object-fit: contain; background: #000; display: block; }
#message { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
           padding: 2em; text-align: center; font-size: 1.4em; color: #fff; background: #222; }
#message[hidden] { display: none; }
#bar { display: flex; flex-wrap: wrap; gap: 0.4em 1.6em; padding: 0.5em 1em; background: #1c1c1c; }
#bar b { color: #fff; font-weight: 600; }
#note:empty { display: none; }
</style>
</head>
<body data-state="connecting">
<div id="stage">
  <video id="video" muted autoplay playsinline></video>
  <div id="message" hidden></div>
</div>
<div id="bar">
  <span>codec <b id="codec">-</b></span>
  <span>resolution <b id="resolution">-</b></span>
  <span>latency <b id="latency">-</b></span>
  <span id="status">connecting</span>
  <span id="note"></span>
</div>
<script>
"use strict";
(() => {
  const MAX_QUEUE = 250;         // segments waiting while the SourceBuffer is busy or not yet open
  const MAX_QUEUE_BYTES = 16 << 20;
  const MAX_LAG = 1.5;           // seconds behind the live edge before jumping to it
  const CATCH_UP_LAG = 0.8;      // beyond this, play a little fast
  const KEEP_BEHIND = 10;        // seconds of played buffer kept; trimmed at twice that
  const KIND_INIT = 0, KIND_KEY = 1;

  const video = document.getElementById("video");
  const message = document.getElementById("message");
  const codecText = document.getElementById("codec");
  const resolutionText = document.getElementById("resolution");
  const latencyText = document.getElementById("latency");
  const statusText = document.getElementById("status");
  const noteText = document.getElementById("note");
  video.muted = true;

  const token = new URLSearchParams(location.search).get("token");
  const at = location.pathname.lastIndexOf("/play/");
  const livePath = at >= 0 ? location.pathname.slice(0, at) + "/live/" + location.pathname.slice(at + 6) : location.pathname;
  const liveURL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + livePath +
                  (token ? "?token=" + encodeURIComponent(token) : "");

  let socket = null, mediaSource = null, sourceBuffer = null, generation = 0;
  let queue = [], queuedBytes = 0, waitingForKey = true, dropped = 0, stream = null, unsupported = false;
  let backoff = 500, reconnectTimer = 0;

  function setState(state, status) { document.body.dataset.state = state; statusText.textContent = status; }
  function showMessage(text) { message.textContent = text; message.hidden = !text; }

  const CODEC_NAMES = { avc1: "H.264", avc3: "H.264", hvc1: "H.265", hev1: "H.265", mp4a: "AAC", av01: "AV1", vp09: "VP9", opus: "Opus" };
  function describeCodec(codec) {
    const family = codec.split(".")[0];
    const kind = family === "mp4a" || family === "opus" ? "audio" : "video";
    return (CODEC_NAMES[family] || family) + " (" + codec + ") " + kind;
  }
  function supports(codecs) { return !!window.MediaSource && MediaSource.isTypeSupported('video/mp4; codecs="' + codecs + '"'); }

  function resetMedia() {
    generation += 1;
    queue = []; queuedBytes = 0; waitingForKey = true; sourceBuffer = null;
    if (mediaSource && mediaSource.readyState === "open") { try { mediaSource.endOfStream(); } catch (e) {} }
    mediaSource = null;
    if (video.src) { URL.revokeObjectURL(video.src); video.removeAttribute("src"); video.load(); }
  }

  function startMedia(codecs) {
    resetMedia();
    const mine = generation, source = new MediaSource();
    mediaSource = source;
    source.addEventListener("sourceopen", () => {
      if (mine !== generation) return;
      try {
        sourceBuffer = source.addSourceBuffer('video/mp4; codecs="' + codecs + '"');
      } catch (e) {
        showMessage("This browser refused the stream (" + e.name + ").");
        return;
      }
      sourceBuffer.mode = "segments";
      sourceBuffer.addEventListener("updateend", () => { if (mine === generation) { keepLive(); pump(); } });
      pump();
    }, { once: true });
    video.src = URL.createObjectURL(source);
  }

  function enqueue(kind, data) {
    if (kind === KIND_INIT) { queue.push({ data, isInit: true }); queuedBytes += data.length; waitingForKey = true; pump(); return; }
    if (queue.length >= MAX_QUEUE || queuedBytes + data.length > MAX_QUEUE_BYTES) {
      const before = queue.length;
      queue = queue.filter(item => item.isInit);
      queuedBytes = queue.reduce((sum, item) => sum + item.data.length, 0);
      dropped += before - queue.length;
      waitingForKey = true;
    }
    if (waitingForKey) {
      if (kind !== KIND_KEY) { dropped += 1; return; }
      waitingForKey = false;
    }
    queue.push({ data, isInit: false });
    queuedBytes += data.length;
    pump();
  }

  function pump() {
    if (!sourceBuffer || sourceBuffer.updating || queue.length === 0) return;
    const item = queue.shift();
    queuedBytes -= item.data.length;
    try {
      sourceBuffer.appendBuffer(item.data);
    } catch (e) {
      if (e.name === "QuotaExceededError" && trim(1)) { queue.unshift(item); queuedBytes += item.data.length; return; }
      // The buffer cannot take it: start again from a fresh connection.
      setState("reconnecting", "append failed (" + e.name + "), reconnecting");
      if (socket) socket.close();
    }
  }

  function trim(keep) {
    const buffered = sourceBuffer.buffered;
    if (!buffered.length || sourceBuffer.updating) return false;
    const start = buffered.start(0), until = video.currentTime - keep;
    if (until <= start) return false;
    sourceBuffer.remove(start, until);
    return true;
  }

  function keepLive() {
    const buffered = sourceBuffer.buffered;
    if (!buffered.length) return;
    const end = buffered.end(buffered.length - 1);
    const behind = end - video.currentTime;
    if (behind > MAX_LAG || video.currentTime < buffered.start(buffered.length - 1) - 0.05) {
      video.currentTime = Math.max(buffered.start(buffered.length - 1), end - 0.3);
    }
    video.playbackRate = behind > CATCH_UP_LAG ? 1.1 : 1.0;
    if (video.paused) video.play().catch(() => {});
    if (video.currentTime - buffered.start(0) > 2 * KEEP_BEHIND) trim(KEEP_BEHIND);
  }

  function handleText(text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (m.type === "status") { statusText.textContent = String(m.message || ""); return; }
    if (m.type !== "init" || typeof m.codec !== "string") return;
    stream = m;
    codecText.textContent = m.codec;
    resolutionText.textContent = m.width > 0 && m.height > 0 ? m.width + "\u00d7" + m.height : "-";
    noteText.textContent = typeof m.note === "string" ? m.note : "";
    if (!supports(m.codec)) {
      const codecs = m.codec.split(",").map(c => c.trim());
      const refused = codecs.find(c => !supports(c)) || m.codec;
      unsupported = true;
      resetMedia();
      showMessage("This browser cannot play " + describeCodec(refused) + " from this camera.");
      setState("unsupported", "unsupported codec");
      if (socket) socket.close();
      return;
    }
    backoff = 500;
    showMessage("");
    setState("streaming", "live");
    startMedia(m.codec);
  }

  function connect() {
    if (unsupported) return;
    setState("connecting", "connecting");
    const ws = new WebSocket(liveURL);
    ws.binaryType = "arraybuffer";
    socket = ws;
    ws.onmessage = event => {
      if (ws !== socket) return;
      if (typeof event.data === "string") { handleText(event.data); return; }
      const bytes = new Uint8Array(event.data);
      if (bytes.length < 2 || !mediaSource || unsupported) return;
      enqueue(bytes[0], bytes.subarray(1));
    };
    ws.onclose = () => {
      if (ws !== socket) return;
      socket = null;
      if (unsupported) return;
      setState("reconnecting", "disconnected, retrying in " + (backoff / 1000).toFixed(1) + " s");
      clearTimeout(reconnectTimer);
      reconnectTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  setInterval(() => {
    if (video.videoWidth > 0) resolutionText.textContent = video.videoWidth + "\u00d7" + video.videoHeight;
    const buffered = sourceBuffer ? sourceBuffer.buffered : null;
    if (buffered && buffered.length && !unsupported) {
      const lag = buffered.end(buffered.length - 1) - video.currentTime;
      latencyText.textContent = lag.toFixed(2) + " s" + (dropped ? " (" + dropped + " dropped)" : "");
    } else {
      latencyText.textContent = "-";
    }
  }, 500);

  connect();
})();
</script>
</body>
</html>
"""#

    /// The page's needs and nothing more: its own inline script and style, WebSocket
    /// to its own host ('self' covers ws/wss there), media from blob: URLs.
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; media-src blob:; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}
