// EmotionPanel front end: draws what the kernel computed. No audio processing here.
//
// The headline and the bars update first (small traits); the waveform, spectrogram and
// playback arrive in a second, larger update and are drawn when they come.

// Viridis at five stops: perceptually even, readable in grey-scale print.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function viridis(v) {
  const x = Math.max(0, Math.min(1, v)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

function asArrayBuffer(value) {
  // Bytes traits arrive as DataView (or ArrayBuffer, depending on the widget manager).
  if (!value) return null;
  if (value instanceof ArrayBuffer) return value;
  if (value.buffer) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  return null;
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function render({ model, el }) {
  el.classList.add("ser-panel");
  el.innerHTML = `
    <div class="ser-model"></div>
    <div class="ser-result">
      <div class="ser-headline">
        <div class="ser-top-label"></div>
        <div class="ser-confidence"></div>
      </div>
      <div class="ser-bars"></div>
    </div>
    <div class="ser-status" role="status" aria-live="polite"></div>
    <div class="ser-timeline-box">
      <div class="ser-caption">Emotion over time</div>
      <div class="ser-timeline" data-segments="0"></div>
      <div class="ser-axis"><span class="ser-axis-start">0 s</span><span class="ser-axis-end"></span></div>
    </div>
    <div class="ser-views">
      <figure><canvas class="ser-waveform" width="600" height="90"></canvas>
        <figcaption class="ser-waveform-caption"></figcaption></figure>
      <figure><canvas class="ser-spectrogram" width="600" height="128"></canvas>
        <figcaption>Log-mel spectrogram (the model's input; low pitch at the bottom)</figcaption></figure>
      <audio class="ser-audio" controls preload="auto"></audio>
    </div>`;
  const q = (selector) => el.querySelector(selector);
  const modelInfo = q(".ser-model");
  const topLabel = q(".ser-top-label");
  const confidence = q(".ser-confidence");
  const bars = q(".ser-bars");
  const status = q(".ser-status");
  const timelineBox = q(".ser-timeline-box");
  const timeline = q(".ser-timeline");
  const axisEnd = q(".ser-axis-end");
  const views = q(".ser-views");
  const waveform = q(".ser-waveform");
  const spectrogram = q(".ser-spectrogram");
  const audio = q(".ser-audio");
  let audioUrl = null;

  const colorOf = (label) => (model.get("colors") || {})[label] || "#666";

  function drawHeadline() {
    const state = model.get("state");
    el.dataset.state = state;
    el.dataset.revision = String(model.get("revision"));
    modelInfo.textContent = model.get("model_info");
    const message = model.get("message");
    status.textContent = message;
    status.hidden = !message;
    const hasResult = state === "result";
    const top = hasResult ? model.get("top") : "";
    topLabel.textContent = top;
    topLabel.style.color = top ? colorOf(top) : "";
    const notSure = hasResult ? model.get("not_sure") : "";
    confidence.innerHTML = "";
    if (hasResult) {
      confidence.append(`${percent(model.get("confidence"))} confident`);
      if (notSure) {
        const badge = document.createElement("span");
        badge.className = "ser-not-sure";
        badge.textContent = "not sure";
        badge.title = notSure;
        confidence.append(" ", badge);
      }
      if (model.get("calibrated")) {
        const badge = document.createElement("span");
        badge.className = "ser-calibrated-badge";
        badge.textContent = "calibrated to your voice";
        badge.title = model.get("calibration_info") || "The result used a calibration to your voice.";
        confidence.append(" ", badge);
      }
      const duration = document.createElement("div");
      duration.textContent = `${model.get("duration").toFixed(1)} s of speech analysed`;
      confidence.append(duration);
    }
    el.classList.toggle("ser-is-not-sure", Boolean(notSure));
    el.dataset.calibrated = String(hasResult && Boolean(model.get("calibrated")));
    drawBars(hasResult);
    views.hidden = !hasResult;
  }

  function drawBars(hasResult) {
    const labels = model.get("labels");
    const probabilities = model.get("probabilities");
    bars.innerHTML = "";
    labels.forEach((label, i) => {
      const p = hasResult && i < probabilities.length ? probabilities[i] : 0;
      const row = document.createElement("div");
      row.className = "ser-bar";
      row.dataset.label = label;
      row.dataset.probability = String(p);
      if (hasResult && label === model.get("top")) row.classList.add("ser-bar-top");
      row.innerHTML = `<span class="ser-bar-label"></span>
        <span class="ser-bar-track"><span class="ser-bar-fill"></span></span>
        <span class="ser-bar-value"></span>`;
      row.querySelector(".ser-bar-label").textContent = label;
      const fill = row.querySelector(".ser-bar-fill");
      fill.style.width = `${100 * p}%`;
      fill.style.background = colorOf(label);
      row.querySelector(".ser-bar-value").textContent = hasResult ? percent(p) : "";
      bars.append(row);
    });
  }

  function drawTimeline() {
    const segments = model.get("timeline");
    const live = model.get("timeline_live");
    timeline.innerHTML = "";
    timeline.dataset.segments = String(segments.length);
    timeline.dataset.live = String(live);
    timelineBox.hidden = segments.length === 0;
    timelineBox.classList.toggle("ser-live", live);
    if (segments.length === 0) return;
    const t0 = segments[0].start;
    const t1 = segments[segments.length - 1].end;
    const span = Math.max(1e-6, t1 - t0);
    for (const segment of segments) {
      const block = document.createElement("div");
      block.className = "ser-segment";
      block.dataset.label = segment.label;
      block.style.flexGrow = String(Math.max(1e-3, segment.end - segment.start) / span);
      block.style.background = segment.label ? colorOf(segment.label) : "#ddd";
      block.style.opacity = String(0.35 + 0.65 * (segment.confidence || 0));
      block.title = `${segment.start.toFixed(1)}–${segment.end.toFixed(1)} s: ` +
        (segment.label ? `${segment.label} (${percent(segment.confidence)})` : "no speech");
      timeline.append(block);
    }
    axisEnd.textContent = `${t1.toFixed(1)} s`;
    q(".ser-axis-start").textContent = `${t0.toFixed(1)} s`;
    q(".ser-caption").textContent = live
      ? `Emotion over time (live: each step judges the last ${model.get("window")} s)`
      : "Emotion over time";
  }

  function drawWaveform() {
    q(".ser-waveform-caption").textContent =
      `Waveform the model heard (trimmed, loudness-normalised, ${model.get("sr") / 1000} kHz)`;
    const buffer = asArrayBuffer(model.get("waveform"));
    const ctx = waveform.getContext("2d");
    ctx.clearRect(0, 0, waveform.width, waveform.height);
    if (!buffer || buffer.byteLength === 0) return;
    const envelope = new Float32Array(buffer); // (min, max) pairs per column
    const columns = envelope.length / 2;
    const mid = waveform.height / 2;
    ctx.fillStyle = model.get("top") ? colorOf(model.get("top")) : "#555";
    for (let c = 0; c < columns; c++) {
      const x = (c / columns) * waveform.width;
      const top = mid - envelope[2 * c + 1] * mid;
      const bottom = mid - envelope[2 * c] * mid;
      ctx.fillRect(x, top, Math.max(1, waveform.width / columns), Math.max(1, bottom - top));
    }
  }

  function drawSpectrogram() {
    const buffer = asArrayBuffer(model.get("spectrogram"));
    const [rows, cols] = model.get("spectrogram_shape");
    const ctx = spectrogram.getContext("2d");
    ctx.clearRect(0, 0, spectrogram.width, spectrogram.height);
    if (!buffer || rows * cols === 0) return;
    const values = new Uint8Array(buffer);
    const image = ctx.createImageData(cols, rows);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const [red, green, blue] = viridis(values[r * cols + c] / 255);
        const at = 4 * ((rows - 1 - r) * cols + c); // low mel bands at the bottom
        image.data[at] = red;
        image.data[at + 1] = green;
        image.data[at + 2] = blue;
        image.data[at + 3] = 255;
      }
    }
    // Draw at native size off-screen, then scale to the canvas.
    const native = document.createElement("canvas");
    native.width = cols;
    native.height = rows;
    native.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(native, 0, 0, spectrogram.width, spectrogram.height);
  }

  function loadAudio() {
    if (audioUrl) URL.revokeObjectURL(audioUrl);
    audioUrl = null;
    const buffer = asArrayBuffer(model.get("audio"));
    if (!buffer || buffer.byteLength === 0) {
      audio.removeAttribute("src");
      return;
    }
    audioUrl = URL.createObjectURL(new Blob([buffer], { type: "audio/wav" }));
    audio.src = audioUrl;
  }

  const redraw = {
    drawHeadline: ["state", "message", "model_info", "labels", "probabilities", "top", "confidence",
                   "not_sure", "duration", "colors", "revision", "calibrated", "calibration_info"],
    drawTimeline: ["timeline", "timeline_live", "window"],
    drawWaveform: ["waveform", "sr"],
    drawSpectrogram: ["spectrogram", "spectrogram_shape"],
    loadAudio: ["audio"],
  };
  const handlers = { drawHeadline, drawTimeline, drawWaveform, drawSpectrogram, loadAudio };
  for (const [name, traits] of Object.entries(redraw)) {
    for (const trait of traits) model.on(`change:${trait}`, handlers[name]);
  }
  drawHeadline();
  drawTimeline();
  drawWaveform();
  drawSpectrogram();
  loadAudio();
  return () => {
    if (audioUrl) URL.revokeObjectURL(audioUrl);
  };
}

export default { render };
