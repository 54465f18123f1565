// Copy buttons: <button data-copy="ID" hidden> copies the text of the element with that id. The buttons
// stay hidden without scripts (the text can still be selected) and say what happened in a live region.
(function () {
  const said = document.createElement("p");
  said.className = "visually-hidden";
  said.setAttribute("aria-live", "polite");
  document.body.appendChild(said);

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
    button.addEventListener("click", function () {
      const text = document.getElementById(button.dataset.copy).textContent;
      const copy = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(text) : fallback(text);
      copy.then(function () { button.textContent = "Copied"; said.textContent = "Copied to the clipboard"; },
                function () { button.textContent = "Select and copy"; said.textContent = "Could not copy: select the text"; });
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });
})();
