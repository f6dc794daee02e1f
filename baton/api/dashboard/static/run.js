// A run's page: brings itself up to date while the run goes on, opens a step from the timeline, and reads a step's
// logs when they are unfolded. Plain JavaScript; without it the page is as it was loaded, and the logs a link.
"use strict";

(() => {
  const PERIOD_MS = 2000;
  const LIMIT_MS = 10 * 60 * 1000;
  const region = document.getElementById("run-live");
  if (!region) {
    return;
  }
  const began = Date.now();
  let timer = null;
  let typed = region.querySelector(".field-error") !== null; // a refused form, its text kept: left as it is

  const state = (root) => root.querySelector(".live-state");
  const finished = () => state(region)?.dataset.finished === "true";

  region.addEventListener("input", () => {
    typed = true; // a person is filling a form: their text is not swept away
  });

  function stop() {
    clearTimeout(timer);
    timer = null;
  }

  function schedule() {
    stop();
    if (finished() || document.hidden) {
      return;
    }
    if (Date.now() - began > LIMIT_MS) {
      document.getElementById("live-expired").hidden = false;
      return;
    }
    timer = setTimeout(refresh, PERIOD_MS);
  }

  async function refresh() {
    timer = null;
    let html = null;
    try {
      const since = encodeURIComponent(state(region)?.dataset.fingerprint ?? "");
      const answer = await fetch(`${region.dataset.live}?since=${since}`, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) {
        return; // the session ended or the run is gone: stop, the next reload says why
      }
      html = answer.status === 204 ? null : await answer.text(); // 204: the run is as drawn
    } catch {
      html = null; // the server is out of reach for now: try again at the next tick
    }
    if (html !== null && !typed && !choosing()) {
      swap(html);
    }
    schedule();
  }

  function choosing() {
    // A field of the page's forms has the focus (a list open, say): the page waits until it is left.
    const focused = document.activeElement;
    return focused !== null && region.contains(focused) && focused.matches("select, textarea, input");
  }

  function swap(html) {
    const fresh = document.createElement("div");
    fresh.innerHTML = html;
    if (state(fresh)?.dataset.fingerprint === state(region)?.dataset.fingerprint) {
      return;
    }
    const chosen = region.querySelector(".node.chosen")?.dataset.ref;
    const shown = region.querySelector(".step-detail:not([hidden])")?.id;
    const focused = document.activeElement?.closest?.("[data-ref]");
    const focusedKey = focused ? [focused.classList.contains("bar") ? ".bar" : ".node", focused.dataset.ref] : null;
    const openFolds = [...region.querySelectorAll("details")].map((fold) => fold.open);
    region.replaceChildren(...fresh.childNodes);
    const folds = region.querySelectorAll("details");
    if (folds.length === openFolds.length) {
      folds.forEach((fold, index) => {
        fold.open = openFolds[index];
      });
    }
    const node = chosen ? region.querySelector(`.node[data-ref="${CSS.escape(chosen)}"]`) : null;
    if (node) {
      node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    } else if (shown) {
      showDetail(shown);
    }
    if (focusedKey) {
      region.querySelector(`${focusedKey[0]}[data-ref="${CSS.escape(focusedKey[1])}"]`)?.focus();
    }
  }

  function showDetail(id) {
    const detail = document.getElementById(id);
    if (!detail) {
      return;
    }
    for (const section of region.querySelectorAll(".step-detail")) {
      section.hidden = section !== detail;
    }
  }

  function openBar(bar) {
    const node = region.querySelector(`.node[data-task="${CSS.escape(bar.dataset.task)}"]`);
    if (node) {
      node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    } else {
      for (const chosen of region.querySelectorAll(".node.chosen")) {
        chosen.classList.remove("chosen");
      }
      showDetail("detail-" + bar.dataset.task); // an earlier attempt, or a loop's earlier iteration
    }
    region.querySelector(".details")?.scrollIntoView({ block: "nearest" });
  }

  region.addEventListener("click", (event) => {
    const bar = event.target.closest(".bar[data-task]");
    if (bar) {
      openBar(bar);
    }
  });

  region.addEventListener("keydown", (event) => {
    const bar = event.target instanceof Element ? event.target.closest(".bar[data-task]") : null;
    if (bar && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openBar(bar);
    }
  });

  // A step's logs, read when their fold is first opened ("toggle" does not bubble: listened for on the way down).
  region.addEventListener(
    "toggle",
    async (event) => {
      const fold = event.target;
      if (!(fold instanceof HTMLDetailsElement) || !fold.open || !fold.dataset.logs || fold.dataset.read) {
        return;
      }
      fold.dataset.read = "true";
      const body = fold.querySelector(".logs-body");
      try {
        const answer = await fetch(fold.dataset.logs, { credentials: "same-origin" });
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const logs = page.getElementById("task-logs");
        if (answer.ok && logs) {
          body.replaceChildren(...logs.childNodes);
        }
      } catch {
        delete fold.dataset.read; // left as the link; opening the fold again tries again
      }
    },
    true,
  );

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      stop();
    } else if (timer === null && !finished() && Date.now() - began <= LIMIT_MS) {
      refresh();
    }
  });

  schedule();
})();
