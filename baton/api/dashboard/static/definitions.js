// Definitions and the start page: the JSON editor keeps a new line's indentation and goes to the line and column
// of a JSON error; the start form's version select loads that version's form. The pages work without it.
"use strict";

function positionOf(text, line, column) {
  let offset = 0;
  for (let current = 1; current < line; current += 1) {
    const next = text.indexOf("\n", offset);
    if (next < 0) {
      return text.length;
    }
    offset = next + 1;
  }
  return Math.min(offset + column - 1, text.length);
}

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button.go-to") : null;
  const editor = document.querySelector("textarea[data-json-editor]");
  if (!button || !editor) {
    return;
  }
  const line = Number(button.dataset.line);
  const at = positionOf(editor.value, line, Number(button.dataset.column));
  editor.focus();
  editor.setSelectionRange(at, at);
  const lineHeight = parseFloat(window.getComputedStyle(editor).lineHeight) || 18;
  editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
});

document.addEventListener("keydown", (event) => {
  const editor = event.target;
  if (!(editor instanceof HTMLTextAreaElement) || !("jsonEditor" in editor.dataset) || event.key !== "Enter"
      || event.shiftKey || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
    return;
  }
  const start = editor.selectionStart;
  const lineStart = editor.value.lastIndexOf("\n", start - 1) + 1;
  const indent = /^[ \t]*/.exec(editor.value.slice(lineStart, start))[0];
  const opens = /[[{]\s*$/.test(editor.value.slice(lineStart, start)) ? "  " : "";
  event.preventDefault();
  editor.setRangeText("\n" + indent + opens, start, editor.selectionEnd, "end");
});

document.addEventListener("change", (event) => {
  const select = event.target;
  if (select instanceof HTMLSelectElement && select.dataset.reload) {
    window.location.assign(select.dataset.reload + "?version=" + encodeURIComponent(select.value));
  }
});
