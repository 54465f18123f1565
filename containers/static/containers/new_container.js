// The new-container page's package search, with script: results as you type (and on "Search"),
// each with an "Add" button that appends `name=version` to the package list. Without script the
// "Search" button posts the form and the page lists the results as checkboxes.
(function () {
  const form = document.getElementById("new-container");
  const q = document.getElementById("q"), results = document.getElementById("results");
  const status = document.getElementById("search-status");
  const packages = document.getElementById("packages"), platform = document.getElementById("platform");
  let timer = null, asked = 0;

  function add(spec) {
    const lines = packages.value.split("\n").map(l => l.trim()).filter(Boolean);
    if (!lines.includes(spec)) lines.push(spec);
    packages.value = lines.join("\n") + "\n";
    status.textContent = "Added " + spec;
  }

  function show(answer) {
    results.replaceChildren();
    for (const p of answer.packages) {
      const spec = p.name + "=" + p.version, li = document.createElement("li"), button = document.createElement("button");
      button.type = "button"; button.textContent = "Add"; button.dataset.spec = spec;
      button.addEventListener("click", () => add(spec));
      const code = document.createElement("code"); code.textContent = spec;
      li.append(button, code, " · " + p.platforms.join(", "));
      results.append(li);
    }
    const n = answer.packages.length;
    status.textContent = n + " package" + (n === 1 ? "" : "s") + " for “" + answer.query + "” in " + answer.channels.join(", ") + (answer.truncated ? " (the first " + n + ")" : "");
  }

  async function search() {
    const text = q.value.trim();
    if (!text) return;
    const mine = ++asked, subdir = platform.value === "linux/arm64" ? "linux-aarch64" : "linux-64";
    status.textContent = "Searching…";
    try {
      const response = await fetch("/view/containers/packages?" + new URLSearchParams({ q: text, platform: subdir }));
      const answer = await response.json();
      if (mine !== asked) return;  // a later search was started: its answer counts
      if (response.ok) show(answer); else { results.replaceChildren(); status.textContent = answer.message; }
    } catch (error) {
      if (mine === asked) status.textContent = "The search failed: " + error;
    }
  }

  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 350); });
  q.addEventListener("keydown", event => { if (event.key === "Enter") { event.preventDefault(); search(); } });
  document.getElementById("search").addEventListener("click", event => { event.preventDefault(); search(); });
  form.dataset.enhanced = "true";
})();
