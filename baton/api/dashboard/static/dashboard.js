// Baton's dashboard: confirmations before actions, and a step's details when its node is chosen. Plain JavaScript,
// no library; the pages work without it, save for the details panel.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function showStep(node) {
  for (const section of document.querySelectorAll(".step-detail")) {
    section.hidden = true;
  }
  for (const chosen of document.querySelectorAll(".node.chosen")) {
    chosen.classList.remove("chosen");
  }
  node.classList.add("chosen");
  const taskId = node.dataset.task;
  let detail = taskId ? document.getElementById("detail-" + taskId) : null;
  if (!detail) {
    detail = document.getElementById("detail-not-run");
    detail.querySelector(".not-run-ref").textContent = node.dataset.ref;
  }
  detail.hidden = false;
}

document.addEventListener("click", (event) => {
  if (event.target.closest("a")) {
    return;
  }
  const node = event.target.closest(".node");
  if (node) {
    showStep(node);
  }
});

document.addEventListener("keydown", (event) => {
  const node = event.target instanceof Element ? event.target.closest(".node") : null;
  if (node && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    showStep(node);
  }
});
