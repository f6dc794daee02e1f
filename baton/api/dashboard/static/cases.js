// Cases: a decision's confirmation names the decision chosen ("Reject the case?"). Without this script the
// form asks its general question (dashboard.js asks whichever the form holds).
"use strict";

document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.name !== "decision") {
    return;
  }
  const form = input.closest("form.decide");
  if (form && input.dataset.verb && form.dataset.subject) {
    form.dataset.confirm = `${input.dataset.verb} ${form.dataset.subject}?`;
  }
});
