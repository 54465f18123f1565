// Copy buttons: <button data-copy="ID" hidden> copies the text of the element with that id. The buttons
// stay hidden without scripts (the text can still be selected). What happened is said in the live
// region of the button's section (`.copied`) or, without one, in a page-wide one; an element with a
// `data-tool` is named in it ("podman command copied.").
(function () {
  let pageWide = null;
  function regionFor(button) {
    const section = button.closest("section");
    const own = section && section.querySelector(".copied");
    if (own) return own;
    if (!pageWide) {
      pageWide = document.createElement("p");
      pageWide.className = "visually-hidden";
      pageWide.setAttribute("aria-live", "polite");
      document.body.appendChild(pageWide);
    }
    return pageWide;
  }

  function select(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallback(text) {  // no Clipboard API outside a secure context (plain http to a non-local host)
    const area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    regionFor(button);  // made now: a live region added with its text is not announced by screen readers
    button.addEventListener("click", function () {
      const source = document.getElementById(button.dataset.copy);
      const text = source.textContent;
      const what = source.dataset.tool ? source.dataset.tool + " command" : "Text";
      const copy = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(text) : fallback(text);
      copy.then(function () {
        button.textContent = "Copied";
        regionFor(button).textContent = source.dataset.tool ? what + " copied." : "Copied to the clipboard";
      }, function () {
        select(source);
        button.textContent = "Select and copy";
        regionFor(button).textContent = what + " selected: press Ctrl+C (⌘C) to copy it.";
      });
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });
})();
