// A build's page: follows the log while the build runs (asking for what came after what is shown) and,
// when the build ends, fills in its final state without a reload; a failed build's first error line
// (or, for whoever may not read the log, its reason) is marked and scrolled into view. The log is a span
// per line, its time (when the worker read it) in data-t, shown by the "Show when each line came" box.
(function () {
  const build = document.getElementById("build");
  const log = document.getElementById("log");
  const steps = document.getElementById("steps");
  // The same patterns as builds/pages.py and builds/log_view.py: buildah's step markers, and an error line
  // as builds/output.py finds it.
  const STEP = /^STEP (\d+)\/(\d+): (.*)$/gm;
  const ERROR_LINE = /^(?:error|fatal)/i;  // tried on one line (a span) at a time

  function set(id, text) { document.getElementById(id).textContent = text; }
  function time(iso) { return iso ? iso.slice(0, 19).replace("T", " ") + " UTC" : "–"; }

  function addStep(text, seconds) {
    const item = document.createElement("li"), code = document.createElement("code");
    code.textContent = text;
    item.appendChild(code);
    if (seconds !== null && seconds !== undefined) {
      const took = document.createElement("span");
      took.className = "step-time";
      took.textContent = seconds.toFixed(1) + " s";
      item.append(" ", took);
    }
    steps.appendChild(item);
  }

  function addSteps(text) {
    if (!steps) return;
    for (const match of text.matchAll(STEP)) addStep(match[1] + "/" + match[2] + ": " + match[3], null);
  }

  // Characters as the server counts them (code points; JavaScript's length counts an emoji as two).
  function codePoints(text) { let n = 0; for (const _ of text) n++; return n; }

  // Appends followed text as a span per line, each with the time of the latest mark at or before it
  // (times: [offset in text, "HH:MM:SS"]); a line the last answer left open goes on in its span.
  function addLines(text, times) {
    let position = 0, next = 0, current = log.lastElementChild ? log.lastElementChild.dataset.t : "";
    for (const line of text.match(/[^\n]*\n|[^\n]+$/g) || []) {
      while (next < times.length && times[next][0] <= position) current = times[next++][1];
      const last = log.lastElementChild;
      if (last && !last.textContent.endsWith("\n")) last.append(line);
      else {
        const span = document.createElement("span");
        span.dataset.t = current;
        span.textContent = line;
        log.appendChild(span);
      }
      position += codePoints(line);
    }
    if (times.length) for (const el of document.querySelectorAll("#log-times, label[for=log-times]")) el.hidden = false;
  }

  function showError() {
    let mark = document.getElementById("error-line");
    if (!mark && !log.hidden) {
      const line = Array.from(log.children).find(el => ERROR_LINE.test(el.textContent));
      if (line) {
        mark = document.createElement("mark");
        mark.id = "error-line";
        mark.dataset.t = line.dataset.t;
        mark.textContent = line.textContent;
        line.replaceWith(mark);
      }
    }
    const reason = document.getElementById("reason");
    if (!mark && !reason.hidden) { mark = reason; reason.classList.add("scrolled"); }
    if (mark) mark.scrollIntoView({ block: "center" });
  }

  function bytes(n) {
    const units = ["bytes", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }

  function showLayers(layers) {
    const body = document.querySelector("#layers tbody");
    body.textContent = "";
    layers.forEach(function (layer, i) {
      const row = body.insertRow(), code = document.createElement("code");
      row.insertCell().textContent = i + 1;
      code.textContent = layer.digest;
      row.insertCell().appendChild(code);
      const size = row.insertCell();
      size.textContent = bytes(layer.size);
      size.dataset.bytes = layer.size;
    });
    document.getElementById("layers-card").hidden = !layers.length;
  }

  function finish(data) {
    set("digest", data.digest || "–");
    set("size", data.size === null ? "–" : bytes(data.size) + " compressed, in " + data.layers.length + " layer" + (data.layers.length === 1 ? "" : "s"));
    showLayers(data.layers);
    if (steps && data.steps) {  // the recorded steps, with how long each took
      steps.textContent = "";
      data.steps.forEach(function (step) { addStep(step.step, step.seconds); });
    }
    set("duration", data.duration === null ? "–" : data.duration.toFixed(2) + " s");
    set("finished", time(data.finished));
    for (const id of ["reason", "reason-label"]) document.getElementById(id).hidden = !data.reason;
    set("reason", data.reason);
    if (data.status === "FAILED") showError();
  }

  function follow(offset) {
    fetch("/view/builds/" + build.dataset.build + "/log?offset=" + offset).then(r => r.json()).then(data => {
      if (data.text) {
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        addLines(data.text, data.times || []);
        addSteps(data.text);
        if (atEnd) log.scrollTop = log.scrollHeight;
      }
      const status = document.getElementById("status");
      if (status.textContent !== data.status) { status.textContent = data.status; status.className = "status-" + data.status; }
      set("started", time(data.started));
      if (data.completed) finish(data);
      else setTimeout(() => follow(data.offset), 1000);
    }).catch(() => setTimeout(() => follow(offset), 3000));
  }

  if (build.dataset.completed === "true") {
    if (document.getElementById("status").textContent === "FAILED") showError();
  } else {
    follow(Number(build.dataset.offset));
  }
})();
