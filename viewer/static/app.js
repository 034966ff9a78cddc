// tetherfocus viewer page.  Plain modern JavaScript, no dependencies, nothing from a CDN.
//
// One WebSocket (/ws) brings the state, autofocus events and the frames (binary messages:
// u32 big-endian header length, JSON header, the node's JPEG).  After showing a camera's
// frame the page acks it; the server sends that camera's next (newest) frame only then, so
// a slow page gets fewer frames rather than a backlog.  docs/viewer.md has the formats.
//
// Each tile's width in device pixels is declared to the viewer ({"action": "tiles"}), again
// whenever the layout changes (ResizeObserver, debounced): a small tile then gets its frames
// at a JPEG DCT scale (1/2, 1/4, 1/8) at least as wide as it is, a large one the camera's own
// bytes.  ?full in the page's URL (or tf.setFullFrames(true)) asks for full frames everywhere.
//
// Only the tiles on screen get frames: the page subscribes to those ({"action":
// "subscribe"}), again whenever one scrolls in or out (IntersectionObserver, debounced).  An
// off-screen tile keeps its last frame and is marked data-paused.  ?all in the URL (or
// tf.setAllTiles(true)) keeps every tile streaming, as a wall display or a benchmark wants.

const tiles = new Map(); // camera name -> Tile
let ws = null;
let nextId = 1;
const pending = new Map(); // action id -> camera

// For benchmarks and tests: per-frame latency samples, seconds.
//   pub:  node publish (frame header t, mapped to wall time by the viewer) -> page receipt
//   hop:  viewer receipt -> page receipt
//   shown: node publish -> frame drawn on the tile's canvas
// Both use wall clocks of the same host (performance.timeOrigin + performance.now() here,
// time.time() in the viewer); see docs/viewer.md.
//   scales: frames received, by the scale they came at (1, 0.5, 0.25, 0.125)
//   since: performance.now() at the last reset (a snapshot says how many seconds it covers)
const stats = { frames: 0, lat: [], hop: [], shown: [], cams: {}, scales: {}, since: performance.now(), max: 50000 };
const sizing = {
  full: new URLSearchParams(location.search).has("full"), // never declare: full frames
  declared: {}, // what the viewer was last told, camera -> device px
  timer: null,
};
const DECLARE_DEBOUNCE_MS = 150;
// What a refocus's result adds to the message (docs/protocol.md, af.<camera> results).
const REFOCUS_NOTES = {
  fell_back: "; focus had moved too far for a refocus: the whole search ran",
  no_memory: "; no earlier landing on this region to refocus from: the whole search ran",
};
const showing = {
  all: new URLSearchParams(location.search).has("all"), // every tile streams, on screen or not
  visible: new Set(), // cameras whose tile is on screen (IntersectionObserver)
  observed: false, // the observer has reported: until then the viewer streams every camera
  told: null, // the cameras the viewer streams to this socket, joined by "\n"
  served: new Set(), // the cameras the viewer named in its hello (a tile may outlive its camera)
  timer: null,
};
window.tf = {
  tiles,
  stats,
  send: (m) => send(m),
  reset() {
    Object.assign(stats, { frames: 0, lat: [], hop: [], shown: [], cams: {}, scales: {}, since: performance.now() });
  },
  // Full frames for every tile (true), or frames at each tile's own size (false, the default).
  setFullFrames(on) {
    sizing.full = Boolean(on);
    declareTiles();
  },
  // Every tile streams (true), or only those on screen (false, the default).
  setAllTiles(on) {
    showing.all = Boolean(on);
    subscribeVisible();
  },
  // What a benchmark collects; skew_ms compares this page's wall clock with Date.now().
  snapshot: () => ({
    ...stats,
    seconds: (performance.now() - stats.since) / 1000,
    skew_ms: performance.timeOrigin + performance.now() - Date.now(),
  }),
};

function nowWall() {
  return (performance.timeOrigin + performance.now()) / 1000;
}

function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

function act(camera, msg) {
  const id = nextId++;
  pending.set(id, camera);
  if (!send({ ...msg, camera, id })) {
    tiles.get(camera)?.message("not connected to the viewer", true);
  }
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// -------------------------------------------------------------------- tile sizes

// One observer for every tile's view: its width in device pixels, as the viewer needs it.
const resizes = new ResizeObserver((entries) => {
  for (const e of entries) {
    const tile = tiles.get(e.target.closest(".tile")?.dataset.camera);
    if (!tile) continue;
    const dev = e.devicePixelContentBoxSize?.[0]?.inlineSize;
    tile.widthPx = Math.ceil(dev ?? e.contentRect.width * devicePixelRatio);
  }
  clearTimeout(sizing.timer);
  sizing.timer = setTimeout(declareTiles, DECLARE_DEBOUNCE_MS);
});

function observeSize(el) {
  try {
    resizes.observe(el, { box: "device-pixel-content-box" });
  } catch (_) {
    resizes.observe(el); // browsers without device-pixel boxes: CSS width x devicePixelRatio
  }
}

// Tell the viewer what changed since it was last told (all of it after a reconnect).
function declareTiles() {
  clearTimeout(sizing.timer);
  const widths = {};
  for (const [name, t] of tiles) {
    const want = sizing.full || !(t.widthPx > 0) ? null : t.widthPx;
    if ((sizing.declared[name] ?? null) !== want) widths[name] = want;
  }
  if (!Object.keys(widths).length) return;
  if (send({ action: "tiles", widths })) {
    for (const [name, px] of Object.entries(widths)) {
      if (px == null) delete sizing.declared[name];
      else sizing.declared[name] = px;
    }
  }
}

// -------------------------------------------------------------------- tiles on screen

const onScreen = new IntersectionObserver((entries) => {
  showing.observed = true;
  for (const e of entries) {
    const name = e.target.dataset.camera;
    if (e.isIntersecting) showing.visible.add(name);
    else showing.visible.delete(name);
  }
  clearTimeout(showing.timer);
  showing.timer = setTimeout(subscribeVisible, DECLARE_DEBOUNCE_MS);
});

// Tell the viewer which cameras to stream to this socket, if that changed.
function subscribeVisible() {
  clearTimeout(showing.timer);
  if (!showing.served.size || (!showing.observed && !showing.all)) return; // no hello yet, or nothing seen
  const want = [...tiles.keys()].filter((n) => showing.served.has(n) && (showing.all || showing.visible.has(n)));
  const key = want.join("\n");
  if (key === showing.told) return;
  if (send({ action: "subscribe", cameras: want })) {
    showing.told = key;
    for (const [n, t] of tiles) t.el.dataset.paused = String(!want.includes(n));
  }
}

class Tile {
  constructor(name) {
    this.name = name;
    const tpl = document.getElementById("tile-template");
    this.el = tpl.content.firstElementChild.cloneNode(true);
    this.el.dataset.camera = name;
    this.el.id = `tile-${name}`;
    this.q = (sel) => this.el.querySelector(sel);
    this.q(".name").textContent = name;
    this.canvas = this.q("canvas.frame");
    this.ctx = this.canvas.getContext("2d");
    this.view = this.q(".view");
    this.roiBox = this.q(".roi");
    this.draft = this.q(".draft");
    this.curve = this.q("canvas.curve");
    this.hist = this.q("canvas.hist");
    this.histCtx = null;
    this.lastHist = 0;
    this.frames = 0;
    this.roi = [0.4, 0.4, 0.2, 0.2];
    this.af = { state: "idle", run_id: null, samples: [], result: null };
    this.header = null;
    this.drag = null;
    this.widthPx = 0; // the view's width in device pixels (ResizeObserver)
    this.bind();
    this.drawCurve();
    observeSize(this.view);
  }

  bind() {
    this.el.querySelectorAll("button[data-act]").forEach((b) => {
      b.addEventListener("click", () => this.onButton(b));
    });
    const large = this.q("button.large");
    large.addEventListener("click", () => {
      const on = this.el.classList.toggle("large");
      large.setAttribute("aria-pressed", String(on));
      if (on) this.el.scrollIntoView({ block: "nearest" });
    });
    const v = this.view;
    v.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      v.setPointerCapture(e.pointerId);
      this.drag = { start: this.frac(e), x0: e.clientX, y0: e.clientY, moved: false };
    });
    v.addEventListener("pointermove", (e) => {
      if (!this.drag) return;
      if (Math.hypot(e.clientX - this.drag.x0, e.clientY - this.drag.y0) > 5) this.drag.moved = true;
      if (this.drag.moved) this.place(this.draft, this.rectFrom(this.drag.start, this.frac(e)));
    });
    v.addEventListener("pointerup", (e) => {
      if (!this.drag) return;
      const d = this.drag;
      this.drag = null;
      this.draft.hidden = true;
      const p = this.frac(e);
      const roi = d.moved ? this.rectFrom(d.start, p) : this.centredAt(p);
      this.setRoi(roi);
    });
    v.addEventListener("pointercancel", () => {
      this.drag = null;
      this.draft.hidden = true;
    });
  }

  frac(e) {
    const r = this.view.getBoundingClientRect();
    return [clamp((e.clientX - r.left) / r.width, 0, 1), clamp((e.clientY - r.top) / r.height, 0, 1)];
  }

  rectFrom(a, b) {
    const min = 0.02;
    let x = Math.min(a[0], b[0]);
    let y = Math.min(a[1], b[1]);
    let w = Math.max(Math.abs(a[0] - b[0]), min);
    let h = Math.max(Math.abs(a[1] - b[1]), min);
    x = clamp(x, 0, 1 - w);
    y = clamp(y, 0, 1 - h);
    return [x, y, w, h];
  }

  centredAt(p) {
    const [, , w, h] = this.roi;
    return [clamp(p[0] - w / 2, 0, 1 - w), clamp(p[1] - h / 2, 0, 1 - h), w, h];
  }

  setRoi(roi) {
    const r = roi.map((v) => Math.round(v * 10000) / 10000);
    r[2] = Math.min(r[2], 1 - r[0]);
    r[3] = Math.min(r[3], 1 - r[1]);
    this.roi = r;
    this.showRoi();
    act(this.name, { action: "roi", roi: r });
  }

  place(box, [x, y, w, h]) {
    box.hidden = false;
    box.style.left = `${x * 100}%`;
    box.style.top = `${y * 100}%`;
    box.style.width = `${w * 100}%`;
    box.style.height = `${h * 100}%`;
  }

  showRoi() {
    this.place(this.roiBox, this.roi);
    this.el.dataset.roi = this.roi.join(",");
  }

  onButton(b) {
    const a = b.dataset.act;
    const msg = { action: a };
    if (a === "autofocus") {
      msg.roi = this.roi;
      if (b.dataset.strategy) msg.strategy = b.dataset.strategy;
      this.af = { state: "starting", run_id: null, samples: [], result: null };
      this.drawCurve();
    } else if (a === "nudge") {
      msg.direction = b.dataset.direction;
      msg.level = Number(b.dataset.level);
    } else if (a === "zoom") {
      msg.zoom = Number(b.dataset.zoom);
      msg.center = [this.roi[0] + this.roi[2] / 2, this.roi[1] + this.roi[3] / 2];
    }
    this.message(`${a}…`);
    act(this.name, msg);
  }

  message(text, error = false) {
    const m = this.q(".msg");
    m.textContent = text;
    m.classList.toggle("error", error);
  }

  // ---------------------------------------------------------------- frames

  async showFrame(header, blob) {
    // Decode off the main thread, then draw: the canvas always holds a whole frame.
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch (_) {
      return; // a frame the browser cannot decode: skip it
    }
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
      this.view.style.aspectRatio = `${bitmap.width} / ${bitmap.height}`;
    }
    this.ctx.drawImage(bitmap, 0, 0);
    if (header.pub_wall != null && stats.shown.length < stats.max) stats.shown.push(nowWall() - header.pub_wall);
    this.header = header;
    this.frames += 1;
    const ds = this.el.dataset;
    ds.frames = String(this.frames);
    ds.scale = String(header.scale ?? 1);
    ds.frameWidth = String(bitmap.width);
    ds.seq = String(header.seq);
    ds.moveId = String(header.move_id);
    ds.settled = String(header.settled);
    ds.zoom = String(header.zoom);
    this.q(".meta").textContent =
      `seq ${header.seq} · move ${header.move_id}${header.settled ? "" : " (moving)"} · ` +
      `pos ${header.position == null ? "not homed" : header.position.toFixed(1)} · ${header.zoom}× · ` +
      `${header.w}×${header.h}` +
      (header.scale != null && header.scale !== 1 ? ` (1/${Math.round(1 / header.scale)} of ${header.full_w}×${header.full_h})` : "");
    this.el.querySelectorAll("button[data-zoom]").forEach((z) => {
      z.classList.toggle("active", Number(z.dataset.zoom) === header.zoom);
    });
    const t = performance.now();
    if (t - this.lastHist > 250) {
      this.lastHist = t;
      this.drawHistogram(bitmap);
    }
    bitmap.close();
  }

  drawHistogram(bitmap) {
    const w = 160;
    const h = 106;
    if (!this.histCtx) {
      this.histSrc = document.createElement("canvas");
      this.histSrc.width = w;
      this.histSrc.height = h;
      this.histCtx = this.histSrc.getContext("2d", { willReadFrequently: true });
    }
    this.histCtx.drawImage(bitmap, 0, 0, w, h);
    const px = this.histCtx.getImageData(0, 0, w, h).data;
    const bins = new Uint32Array(64);
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2];
      bins[Math.min(63, y >> 2)] += 1;
    }
    const c = this.hist.getContext("2d");
    const W = this.hist.width;
    const H = this.hist.height;
    c.clearRect(0, 0, W, H);
    const peak = Math.max(...bins) || 1;
    c.fillStyle = "#c8c8c8";
    const bw = W / bins.length;
    bins.forEach((n, i) => {
      const bh = (n / peak) * (H - 4);
      c.fillRect(i * bw, H - bh, Math.max(1, bw - 0.5), bh);
    });
    this.el.dataset.histogram = "1";
  }

  // ---------------------------------------------------------------- state

  applyState(cam) {
    const st = this.q(".label.state");
    st.textContent = cam.state;
    st.dataset.state = cam.state;
    this.el.dataset.state = cam.state;
    this.q(".label.fps").textContent = `${Number(cam.fps || 0).toFixed(1)} fps`;
    if (!this.drag && Array.isArray(cam.roi)) {
      this.roi = cam.roi;
      this.showRoi();
    }
    if (cam.af) this.applyAf(cam.af);
    if (cam.error && cam.state !== "liveview") this.message(cam.error, true);
  }

  applyAf(af) {
    // The state message carries the whole curve: it wins over what events built so far,
    // unless it is about an older run.
    if (this.af.run_id != null && af.run_id != null && af.run_id < this.af.run_id) return;
    this.af = { ...af, samples: af.samples || [] };
    this.afChanged();
  }

  onAfEvent(ev) {
    if (this.af.run_id != null && ev.run_id < this.af.run_id) return;
    if (ev.run_id !== this.af.run_id) {
      this.af = { state: "starting", run_id: ev.run_id, samples: [], result: null };
    }
    if (ev.kind === "sample" && ev.position != null && ev.measure != null) {
      this.af.samples.push([ev.position, ev.measure, ev.zoom, ev.series || `${ev.zoom ?? 1}x`]);
    } else if (ev.kind === "result") {
      this.af.result = ev.result;
    }
    if (ev.af_state) this.af.state = ev.af_state;
    else if (ev.kind === "state" && ev.state) this.af.state = ev.state;
    this.afChanged();
  }

  afChanged() {
    const label = this.q(".label.af");
    label.textContent = `AF ${this.af.state}`;
    label.dataset.state = this.af.state;
    const ds = this.el.dataset;
    ds.afState = this.af.state;
    ds.samples = String(this.af.samples.length);
    const r = this.af.result;
    ds.result = r ? (r.ok ? "ok" : "failed") : "";
    if (r) {
      const text = r.ok
        ? `${r.refocus === "landed" ? "refocused" : "focused"} at ${Number(r.position).toFixed(1)} ` +
          `(measure ${Number(r.measure).toPrecision(4)}, ` +
          `${r.frames ?? "?"} frames, ${Number(r.seconds ?? 0).toFixed(1)} s)` +
          (REFOCUS_NOTES[r.refocus] ?? "") +
          (r.spans_depth ? "; the region spans depth: not all of it can be sharp" : "")
        : `autofocus failed: ${r.reason ?? "unknown reason"}`;
      this.message(text, !r.ok);
    }
    this.drawCurve();
  }

  drawCurve() {
    const c = this.curve.getContext("2d");
    const W = this.curve.width;
    const H = this.curve.height;
    const pad = 18;
    c.clearRect(0, 0, W, H);
    c.strokeStyle = "#33373d";
    c.strokeRect(pad, 4, W - pad - 4, H - pad - 4);
    const s = this.af.samples || [];
    const r = this.af.result;
    if (!s.length) {
      c.fillStyle = "#9aa0a6";
      c.font = "12px system-ui";
      c.fillText("no autofocus samples yet", pad + 8, H / 2);
      return;
    }
    const xs = s.map((p) => p[0]);
    if (r && r.ok && r.position != null) xs.push(r.position);
    let x0 = Math.min(...xs);
    let x1 = Math.max(...xs);
    if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
    const X = (v) => pad + ((v - x0) / (x1 - x0)) * (W - pad - 10) + 2;
    // Measures compare only within one series (one view and decode scale: a 5x view is far
    // sharper than 1x, a coarse 1/8 decode blurrier than a full one), so each series gets
    // its own vertical scale, coloured by its zoom; the x axis is shared.
    const colours = { 1: "#8fb4ff", 5: "#ffb000", 10: "#ff6ad5" };
    const key = (p) => p[3] ?? `${p[2] ?? 1}x`;
    const series = [...new Set(s.map(key))];
    series.forEach((name, k) => {
      const g = s.filter((p) => key(p) === name);
      const z = g[0][2] ?? 1;
      const ys = g.map((p) => p[1]);
      const y0 = Math.min(...ys);
      let y1 = Math.max(...ys);
      if (y1 - y0 < 1e-12) y1 = y0 + 1;
      const Y = (v) => H - pad - ((v - y0) / (y1 - y0)) * (H - pad - 14);
      const col = colours[z] || "#cccccc";
      c.strokeStyle = col;
      c.globalAlpha = 0.6;
      c.beginPath();
      [...g].sort((a, b) => a[0] - b[0]).forEach((p, i) => (i ? c.lineTo(X(p[0]), Y(p[1])) : c.moveTo(X(p[0]), Y(p[1]))));
      c.stroke();
      c.globalAlpha = 1;
      c.fillStyle = col;
      g.forEach((p) => {
        c.beginPath();
        c.arc(X(p[0]), Y(p[1]), 2.5, 0, Math.PI * 2);
        c.fill();
      });
      c.font = "10px system-ui";
      c.textAlign = "right";
      c.fillText(String(name).replace(/^(\d+)x/, "$1×"), W - 6, 16 + 12 * k);
      c.textAlign = "left";
    });
    const last = s[s.length - 1];
    c.strokeStyle = "#ffffff";
    c.beginPath();
    c.arc(X(last[0]), H - pad - 2, 3, 0, Math.PI * 2);
    c.stroke();
    if (r && r.position != null) {
      c.strokeStyle = r.ok ? "#3ccf6e" : "#ff5a52";
      c.setLineDash([4, 3]);
      c.beginPath();
      c.moveTo(X(r.position), 4);
      c.lineTo(X(r.position), H - pad);
      c.stroke();
      c.setLineDash([]);
      c.fillStyle = c.strokeStyle;
      c.font = "11px system-ui";
      c.fillText(`${r.ok ? "best" : "failed"} ${Number(r.position).toFixed(1)}`, Math.min(X(r.position) + 3, W - 70), 15);
    }
    c.fillStyle = "#9aa0a6";
    c.font = "10px system-ui";
    c.fillText(x0.toFixed(0), pad, H - 4);
    c.fillText(x1.toFixed(0), W - 30, H - 4);
  }

  onReply(msg) {
    if (!msg.ok) {
      this.message(`${msg.action ?? "action"}: ${msg.error.code}: ${msg.error.message}`, true);
      return;
    }
    const res = msg.result || {};
    if (msg.action === "capture" && res.url) {
      const a = document.createElement("a");
      a.href = res.url;
      a.download = res.name;
      a.textContent = `${res.name} (${(res.size / 1e6).toFixed(1)} MB)`;
      a.className = "capture-link";
      this.q(".downloads").prepend(a);
      this.message(`captured ${res.name}`);
    } else if (msg.action === "autofocus") {
      this.message(`autofocus run ${res.run_id} started`);
    } else if (msg.action === "nudge") {
      this.message(`moved (move ${res.move_id})`);
    } else if (msg.action === "roi") {
      this.message(`focus region ${res.roi ? res.roi.map((v) => v.toFixed(2)).join(", ") : "set"}`);
    } else {
      this.message(`${msg.action}: done`);
    }
  }
}

// -------------------------------------------------------------------- WebSocket

function ensureTiles(names) {
  const grid = document.getElementById("grid");
  for (const n of names) {
    if (!tiles.has(n)) {
      const t = new Tile(n);
      tiles.set(n, t);
      grid.append(t.el);
      onScreen.observe(t.el);
    }
  }
}

function onBinary(buf) {
  const recv = nowWall();
  const dv = new DataView(buf);
  const n = dv.getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  stats.frames += 1;
  stats.scales[header.scale ?? 1] = (stats.scales[header.scale ?? 1] ?? 0) + 1;
  if (header.pub_wall != null && stats.lat.length < stats.max) stats.lat.push(recv - header.pub_wall);
  if (header.recv_wall != null && stats.hop.length < stats.max) stats.hop.push(recv - header.recv_wall);
  const c = (stats.cams[header.camera] ??= { n: 0, first: header.seq, last: header.seq });
  c.n += 1;
  c.last = header.seq;
  const tile = tiles.get(header.camera);
  const ack = () => send({ action: "ack", camera: header.camera });
  if (!tile) return ack();
  tile.showFrame(header, new Blob([new Uint8Array(buf, 4 + n)], { type: "image/jpeg" })).finally(ack);
}

function onText(text) {
  const msg = JSON.parse(text);
  if (msg.type === "hello") {
    ensureTiles(msg.cameras);
    sizing.declared = {}; // a new connection knows nothing yet
    declareTiles();
    showing.served = new Set(msg.cameras);
    showing.told = [...tiles.keys()].filter((n) => showing.served.has(n)).join("\n"); // all, at first
    subscribeVisible();
  } else if (msg.type === "state") {
    ensureTiles(msg.cameras.map((c) => c.name));
    for (const cam of msg.cameras) tiles.get(cam.name).applyState(cam);
    const ctl = document.getElementById("controller");
    const online = msg.controller && msg.controller.online;
    ctl.dataset.state = online ? "online" : online === false ? "offline" : "unknown";
    ctl.textContent = `controller: ${online ? "online" : online === false ? "offline" : "?"}`;
    ctl.title = (msg.controller && msg.controller.error) || "";
  } else if (msg.type === "af") {
    tiles.get(msg.camera)?.onAfEvent(msg);
  } else if (msg.type === "reply") {
    const cam = msg.camera ?? pending.get(msg.id);
    pending.delete(msg.id);
    const tile = tiles.get(cam);
    if (tile) tile.onReply(msg);
    else if (!msg.ok) console.warn("viewer:", msg.error);
  }
}

function connect(delay = 500) {
  const conn = document.getElementById("conn");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${proto}//${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    conn.dataset.state = "open";
    conn.textContent = "live";
    delay = 500;
  };
  ws.onmessage = (e) => (typeof e.data === "string" ? onText(e.data) : onBinary(e.data));
  ws.onclose = () => {
    conn.dataset.state = "closed";
    conn.textContent = "disconnected – retrying";
    setTimeout(() => connect(Math.min(delay * 2, 5000)), delay);
  };
}

connect();
