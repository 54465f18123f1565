// Copy buttons: `<button class="copy" data-copy="ID">` copies the text of #ID. The clipboard API needs
// a secure context (https or localhost); elsewhere the text is selected for Ctrl+C instead.
(function () {
  function select(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function say(button, text) {
    const status = button.closest("section").querySelector(".copied");
    if (status) status.textContent = text;
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.hidden = false;  // without JavaScript there is nothing to click: the text stays selectable
    button.addEventListener("click", function () {
      const source = document.getElementById(button.dataset.copy);
      const tool = source.dataset.tool || "text";
      const fallback = function () { select(source); say(button, tool + " command selected: press Ctrl+C (⌘C) to copy it."); };
      if (!navigator.clipboard || !window.isSecureContext) return fallback();
      navigator.clipboard.writeText(source.textContent).then(function () {
        say(button, tool + " command copied.");
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      }, fallback);
    });
  });
})();
