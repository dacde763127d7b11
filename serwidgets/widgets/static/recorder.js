// Recorder front end: microphone -> AudioWorklet -> mono PCM at the `sr` trait's rate -> kernel.
//
// Messages to the kernel (model.send, PCM as a binary buffer, never JSON numbers):
//   {type: "chunk", seq, sr}               + Int16 PCM since the previous chunk (live timeline)
//   {type: "recording", sr, n_samples}     + the whole take as a 16-bit WAV file
// The output rate is the `sr` trait (serwidgets.audio.TARGET_SR in Python), read when a take
// starts. Errors (no microphone, permission denied, insecure page) are written to the
// `status` trait, so they show in the widget and the kernel sees them too.

// The worklet mixes the input to mono and hands blocks of 2048 frames to the page.
// "flush" sends what is buffered and then {flushed: true}, so stopping loses no audio.
const WORKLET_SOURCE = `
class SerCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(2048);
    this.filled = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") {
        this.flush();
        this.port.postMessage({ flushed: true });
      }
    };
  }
  flush() {
    if (this.filled > 0) {
      this.port.postMessage(this.block.slice(0, this.filled));
      this.filled = 0;
    }
  }
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const n = channels[0].length;
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let c = 0; c < channels.length; c++) sum += channels[c][i];
        this.block[this.filled++] = sum / channels.length;
        if (this.filled === this.block.length) this.flush();
      }
    }
    return true;
  }
}
registerProcessor("ser-capture", SerCapture);
`;

// Streaming windowed-sinc resampler. The low-pass cut-off follows the output rate, so
// 48 kHz -> 16 kHz does not alias; state carries over between blocks.
class Resampler {
  constructor(inRate, outRate, halfWidth = 16) {
    this.step = inRate / outRate;
    this.cutoff = Math.min(1, outRate / inRate) * 0.95;
    this.half = halfWidth;
    // `history` starts with `half` zeros so the first output has left context.
    this.history = new Float32Array(halfWidth);
    this.t = halfWidth; // position of the next output sample, in `history` coordinates
    this.dropped = 0; // samples removed from the front of `history` so far
    this.received = 0; // real input samples so far
  }
  weight(x) {
    const w = x / this.half;
    if (Math.abs(w) >= 1) return 0;
    const arg = Math.PI * this.cutoff * x;
    const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
    return this.cutoff * sinc * (0.5 + 0.5 * Math.cos(Math.PI * w)); // Hann window
  }
  run(input, limit) {
    const joined = new Float32Array(this.history.length + input.length);
    joined.set(this.history, 0);
    joined.set(input, this.history.length);
    const out = [];
    let t = this.t;
    while (Math.floor(t) + this.half < joined.length && t + this.dropped < limit) {
      const centre = Math.floor(t);
      let acc = 0;
      for (let i = centre - this.half + 1; i <= centre + this.half; i++) acc += joined[i] * this.weight(t - i);
      out.push(acc);
      t += this.step;
    }
    const keepFrom = Math.max(0, Math.floor(t) - this.half + 1);
    this.history = joined.slice(keepFrom);
    this.dropped += keepFrom;
    this.t = t - keepFrom;
    return Float32Array.from(out);
  }
  process(input) {
    this.received += input.length;
    return this.run(input, Infinity);
  }
  finish() {
    // Zero padding lets the last real samples through; outputs stop at the real end.
    return this.run(new Float32Array(this.half + 1), this.received + this.half);
  }
}

function toInt16(samples) {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  return pcm;
}

function concatInt16(parts, total) {
  const all = new Int16Array(total);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

function wavFile(pcm, rate) {
  const buffer = new ArrayBuffer(44 + pcm.length * 2);
  const view = new DataView(buffer);
  const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF");
  view.setUint32(4, 36 + pcm.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, pcm.length * 2, true);
  new Int16Array(buffer, 44).set(pcm);
  return buffer;
}

function microphoneError(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone permission denied: allow microphone access for this page and press Record again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone found: connect one (or use Upload) and press Record again.";
    case "NotReadableError":
      return "The microphone is busy or failed to start (is another application using it?).";
    default:
      return `Could not start the microphone: ${error && error.message ? error.message : error}`;
  }
}

function render({ model, el }) {
  el.classList.add("ser-recorder");
  el.innerHTML = `
    <div class="ser-recorder-row">
      <button class="ser-record" type="button" data-state="idle" aria-pressed="false">
        <span class="ser-record-dot"></span><span class="ser-record-text">Record</span>
      </button>
      <span class="ser-elapsed">0.0 s</span>
      <div class="ser-meter" title="input level"><div class="ser-meter-fill"></div></div>
    </div>
    <div class="ser-status" role="status" aria-live="polite"></div>`;
  const button = el.querySelector(".ser-record");
  const buttonText = el.querySelector(".ser-record-text");
  const elapsed = el.querySelector(".ser-elapsed");
  const meter = el.querySelector(".ser-meter-fill");
  const status = el.querySelector(".ser-status");

  let session = null; // everything that exists only while recording

  const showStatus = () => {
    const message = model.get("status");
    status.textContent = message;
    status.hidden = !message;
  };
  const setStatus = (message) => {
    model.set("status", message);
    model.save_changes();
  };
  const showElapsed = (seconds) => {
    elapsed.textContent = `${seconds.toFixed(1)} s / ${model.get("max_seconds")} s`;
  };

  async function start() {
    if (!window.isSecureContext) {
      // Browsers hide the microphone API from insecure pages (plain http on another host).
      setStatus(`The microphone needs a secure page: open the dashboard via http://127.0.0.1 or https ` +
                `(this page is ${location.origin}). You can still upload a file.`);
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus("This browser cannot record audio here (no navigator.mediaDevices). You can still upload a file.");
      return;
    }
    setStatus("");
    button.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          channelCount: 1,
          // The model was trained on unprocessed speech: browser voice processing changes
          // loudness and spectrum, so it is switched off.
          echoCancellation: false,
          noiseSuppression: false,
          autoGainControl: false,
        },
      });
    } catch (error) {
      button.disabled = false;
      setStatus(microphoneError(error));
      return;
    }
    try {
      const context = new AudioContext();
      const url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "application/javascript" }));
      await context.audioWorklet.addModule(url);
      URL.revokeObjectURL(url);
      const source = context.createMediaStreamSource(stream);
      const capture = new AudioWorkletNode(context, "ser-capture");
      const mute = context.createGain();
      mute.gain.value = 0; // the worklet must be pulled by the graph, but not heard
      source.connect(capture).connect(mute).connect(context.destination);

      const sr = model.get("sr");
      session = {
        stream, context, capture, sr,
        resampler: new Resampler(context.sampleRate, sr),
        parts: [], total: 0, pending: [], seq: 0, level: 0, stopping: false,
      };
      capture.port.onmessage = (event) => onBlock(event.data);
      session.timer = setInterval(sendChunk, Math.round(model.get("chunk_seconds") * 1000));
      button.dataset.state = "recording";
      button.setAttribute("aria-pressed", "true");
      buttonText.textContent = "Stop";
      button.disabled = false;
      model.set("recording", true);
      model.save_changes();
    } catch (error) {
      stream.getTracks().forEach((track) => track.stop());
      button.disabled = false;
      setStatus(`Could not start recording: ${error.message || error}`);
    }
  }

  function onBlock(data) {
    if (!session) return;
    if (data && data.flushed) {
      if (session.onFlushed) session.onFlushed();
      return;
    }
    let peak = 0;
    for (let i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
    const db = 20 * Math.log10(peak + 1e-9);
    meter.style.width = `${Math.max(0, Math.min(100, (db + 60) * 100 / 60))}%`;
    append(session.resampler.process(data));
    const seconds = session.total / session.sr;
    showElapsed(seconds);
    if (seconds >= model.get("max_seconds") && !session.stopping) stop();
  }

  function append(samples) {
    if (samples.length === 0) return;
    const pcm = toInt16(samples);
    session.parts.push(pcm);
    session.pending.push(pcm);
    session.total += pcm.length;
  }

  function sendChunk() {
    if (!session || session.pending.length === 0) return;
    const n = session.pending.reduce((sum, part) => sum + part.length, 0);
    const pcm = concatInt16(session.pending, n);
    session.pending = [];
    model.send({ type: "chunk", seq: session.seq++, sr: session.sr }, undefined, [pcm.buffer]);
  }

  async function stop() {
    const current = session;
    if (!current || current.stopping) return;
    current.stopping = true;
    button.disabled = true;
    clearInterval(current.timer);
    // Collect what the worklet still holds, then close the microphone.
    await new Promise((resolve) => {
      current.onFlushed = resolve;
      current.capture.port.postMessage("flush");
      setTimeout(resolve, 250); // a suspended context never answers
    });
    append(current.resampler.finish());
    current.stream.getTracks().forEach((track) => track.stop());
    current.context.close();
    const pcm = concatInt16(current.parts, current.total);
    session = null;
    model.send({ type: "recording", sr: current.sr, n_samples: pcm.length }, undefined,
               [wavFile(pcm, current.sr)]);
    meter.style.width = "0%";
    button.dataset.state = "idle";
    button.setAttribute("aria-pressed", "false");
    buttonText.textContent = "Record";
    button.disabled = false;
    model.set("recording", false);
    model.save_changes();
  }

  button.addEventListener("click", () => (session ? stop() : start()));
  model.on("change:status", showStatus);
  model.on("change:max_seconds", () => showElapsed(session ? session.total / session.sr : 0));
  showStatus();
  showElapsed(0);

  return () => {
    // The view is going away (cell cleared, page closed): release the microphone.
    if (session) {
      clearInterval(session.timer);
      session.stream.getTracks().forEach((track) => track.stop());
      session.context.close();
      session = null;
    }
  };
}

export default { render };
