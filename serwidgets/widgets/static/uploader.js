// Uploader front end: choose a file, check its size *before* reading it, send it in one
// binary buffer. The Jupyter server silently drops websocket messages over its size limit
// (and the page then hears nothing back), so a file over `max_bytes` never leaves the page:
// the message is shown here and the kernel is told, in a few bytes, that it was refused.
//
// Messages to the kernel:
//   {type: "upload", name, size} + the file's bytes      (size <= max_bytes)
//   {type: "refused", name, size}                         (size > max_bytes; no bytes)
// The kernel answers each with {type: "done", ok}; errors arrive in the `status` trait.

const MIB = 1024 * 1024;
const ANSWER_TIMEOUT_MS = 120000;

function tooLarge(name, size, maxBytes) {
  // Same sentence as serwidgets.widgets.uploader.too_large_message.
  return `${name} is too large: ${(size / MIB).toFixed(1)} MiB (limit ${(maxBytes / MIB).toFixed(1)} MiB). ` +
    "Upload a shorter recording.";
}

function render({ model, el }) {
  el.classList.add("ser-uploader");
  el.innerHTML = `
    <button class="ser-upload" type="button">Upload audio</button>
    <input class="ser-upload-input" type="file" hidden>
    <div class="ser-status" role="status" aria-live="polite"></div>`;
  const button = el.querySelector(".ser-upload");
  const input = el.querySelector(".ser-upload-input");
  const status = el.querySelector(".ser-status");
  let waiting = null; // timer while the kernel has not answered

  const show = (message) => {
    status.textContent = message;
    status.hidden = !message;
  };
  const showModelStatus = () => show(model.get("status"));
  const describe = () => {
    const limit = (model.get("max_bytes") / MIB).toFixed(1);
    button.title = `wav, flac, ogg, mp3, webm or m4a; at most ${limit} MiB and ${model.get("max_seconds")} s`;
    input.accept = model.get("accept_types");
  };
  const idle = () => {
    if (waiting) clearTimeout(waiting);
    waiting = null;
    button.disabled = false;
    el.dataset.busy = "false";
  };
  const busy = () => {
    button.disabled = true;
    el.dataset.busy = "true";
    waiting = setTimeout(() => {
      idle();
      show("No answer from the server: the connection may have dropped. Reload the page and try again.");
    }, ANSWER_TIMEOUT_MS);
  };

  async function send(file) {
    const maxBytes = model.get("max_bytes");
    if (file.size > maxBytes) {
      show(tooLarge(file.name, file.size, maxBytes));
      busy();
      model.send({ type: "refused", name: file.name, size: file.size });
      return;
    }
    busy();
    show(`Uploading ${file.name} (${(file.size / MIB).toFixed(1)} MiB)…`);
    let buffer;
    try {
      buffer = await file.arrayBuffer();
    } catch (error) {
      idle();
      show(`Could not read ${file.name} from your computer: ${error.message || error}`);
      return;
    }
    model.send({ type: "upload", name: file.name, size: file.size }, undefined, [buffer]);
  }

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    input.value = ""; // the same file can be chosen again
    if (file) send(file);
  });
  model.on("msg:custom", (content) => {
    if (content && content.type === "done") {
      idle();
      showModelStatus();
    }
  });
  model.on("change:status", showModelStatus);
  model.on("change:max_bytes", describe);
  model.on("change:max_seconds", describe);
  model.on("change:accept_types", describe);
  describe();
  showModelStatus();
  return () => idle();
}

export default { render };
