// The runs list's live refresh: while the tab is visible, fetch the list's live part (counts, rows, pages) for the
// same filters every few seconds and put it in place. It stops while the tab is hidden, after ten minutes (a tick
// starts it again), when a person turns it off (remembered for the tab), and when the session has ended. Without
// JavaScript the list is the same page, refreshed by reloading it.
"use strict";

(() => {
  const live = document.getElementById("runs-live");
  const toggle = document.querySelector(".live-toggle");
  if (!live || !toggle) {
    return;
  }
  const box = document.getElementById("live-refresh");
  const state = toggle.querySelector(".live-state");
  const EVERY_MS = 4000;
  const FOR_MS = 10 * 60 * 1000;
  const CHOICE = "baton.runs.live";
  let until = Date.now() + FOR_MS;
  let timer = null;
  let ended = false;

  toggle.hidden = false;
  box.checked = window.sessionStorage.getItem(CHOICE) !== "off";

  function running() {
    return box.checked && !ended && document.visibilityState === "visible" && Date.now() < until;
  }

  // Said only when it changes: the line is a live region, read out to a screen reader's user.
  function say() {
    let text = "every 4 s";
    if (ended) {
      text = "stopped: your session has ended";
    } else if (!box.checked) {
      text = "off";
    } else if (Date.now() >= until) {
      text = "paused after 10 minutes: tick again to go on";
    } else if (document.visibilityState !== "visible") {
      text = "paused while the tab is hidden";
    }
    if (state.textContent !== text) {
      state.textContent = text;
    }
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = running() ? window.setTimeout(refresh, delay) : null;
    say();
  }

  // The focused link (a status count or a page link) is focused again once the part it was in is replaced.
  function focusedKey() {
    const focused = document.activeElement;
    if (!(focused instanceof HTMLAnchorElement) || !live.contains(focused)) {
      return null;
    }
    return focused.getAttribute("data-status") ?? focused.getAttribute("rel") ?? focused.getAttribute("href");
  }

  function refocus(key) {
    for (const link of live.querySelectorAll("a")) {
      const linkKey = link.getAttribute("data-status") ?? link.getAttribute("rel") ?? link.getAttribute("href");
      if (linkKey === key) {
        link.focus();
        return;
      }
    }
  }

  async function refresh() {
    timer = null;
    try {
      const answer = await fetch(live.dataset.live, { credentials: "same-origin", cache: "no-store" });
      if (answer.status === 401 || answer.status === 403) {
        ended = true;
      } else if (answer.ok) {
        const html = await answer.text();
        if (html.trim() !== live.innerHTML.trim()) {
          const key = focusedKey();
          live.innerHTML = html;
          if (key !== null) {
            refocus(key);
          }
        }
      }
    } catch (error) {
      // A network hiccup: try again at the next tick.
    }
    schedule(EVERY_MS);
  }

  box.addEventListener("change", () => {
    window.sessionStorage.setItem(CHOICE, box.checked ? "on" : "off");
    if (box.checked) {
      until = Date.now() + FOR_MS;
      schedule(0);
    } else {
      schedule(EVERY_MS);
    }
  });
  document.addEventListener("visibilitychange", () => schedule(document.visibilityState === "visible" ? 0 : EVERY_MS));
  schedule(EVERY_MS);
})();
