// The moderators' console. State: a snapshot, then every log entry after it, applied by id.
// The DOM holds only the cards a moderator can see (the first page of each column); cards are
// kept in a Map by question id and only touched ones are refilled. Post text is set with
// textContent, never as HTML.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("floor-config").textContent);
  const E = config.events;
  const ME = config.moderator;
  const REASONS = config.reject_reasons;
  const PAGE = 40;            // cards rendered per column before "show more"
  const ACK_TIMEOUT = 8000;   // ms before an unanswered action is reported

  const $ = (id) => document.getElementById(id);
  const FLAG_WORDS = {
    question: "looks like a question", markup: "had markup", hidden_chars: "hidden characters",
    rtl: "right-to-left", truncated: "cut short", zalgo: "stacked accents",
    rehearsal: "rehearsal", deleted: "deleted by author", original_capped: "very long original",
  };
  const DONE = {
    approve: "approved", reject: "rejected", screen: "put on screen", answer: "answered",
    unscreen: "taken off screen", edit: "edited", group: "grouped", star: "starred",
    unstar: "unstarred", reorder: "moved", undo: "undone", clear: "cleared off screen",
    displace: "replaced on screen", retract: "deleted by its author",
  };
  const STATE_WORDS = {
    new: "new", approved: "approved", on_screen: "on screen", answered: "answered",
    rejected: "rejected", grouped: "grouped",
  };

  // -- state -------------------------------------------------------------------------------
  const questions = new Map();   // qid -> question dict (the newest version seen)
  let order = [];                // qids in arrival order
  let queue = [];                // approved qids in board order
  let screen = null;             // qid on screen, or null
  let lastId = null;             // last log id applied
  let syncing = true;            // between (re)connect and snapshot/catch-up: buffer entries
  let buffered = [];
  const touched = new Set();     // qids whose cards need refilling
  const locks = new Map();       // qid -> Set of other moderators editing it
  let online = [];
  let groupTarget = null;
  let firstRender = true;
  let newSinceAnnounce = 0;

  // -- columns -----------------------------------------------------------------------------
  const COLUMNS = ["incoming", "queue", "screen", "aside"];
  const LISTS = {
    incoming: { el: $("list-incoming"), col: "incoming", limit: PAGE },
    queue: { el: $("list-queue"), col: "queue", limit: PAGE },
    screen: { el: $("list-screen"), col: "screen", limit: 1 },
    answered: { el: $("list-answered"), col: "screen", limit: PAGE / 2 },
    rejected: { el: $("list-rejected"), col: "aside", limit: PAGE / 2, box: $("box-rejected") },
    grouped: { el: $("list-grouped"), col: "aside", limit: PAGE / 2, box: $("box-grouped") },
  };
  const LISTS_OF = {
    incoming: ["incoming"], queue: ["queue"], screen: ["screen", "answered"],
    aside: ["rejected", "grouped"],
  };
  const cards = new Map();       // qid -> <li> for the cards in the DOM
  const visible = {};            // list name -> qids rendered, in order
  let selected = { col: "incoming", qid: null, index: 0 };

  const filters = { text: "", platform: "", state: "", flag: "", order: "oldest" };

  function haystack(q) {
    if (q._hay === undefined) {
      q._hay = [q.text, q.original, q.author_name, q.author_handle, q.id]
        .join("\n").toLowerCase();
    }
    return q._hay;
  }

  function passes(q) {
    if (filters.platform && q.platform !== filters.platform) return false;
    if (filters.state === "starred") { if (!q.starred) return false; }
    else if (filters.state && q.state !== filters.state) return false;
    if (filters.flag === "-") { if (q.flags.length) return false; }
    else if (filters.flag && !q.flags.includes(filters.flag)) return false;
    if (filters.text && !haystack(q).includes(filters.text)) return false;
    return true;
  }

  // Which qids each list shows, filtered and ordered, and how many there are in all.
  function buckets() {
    const out = { incoming: [], queue: [], screen: [], answered: [], rejected: [], grouped: [] };
    const totals = { incoming: 0, queue: queue.length, screen: 0, answered: 0, rejected: 0, grouped: 0 };
    for (const qid of order) {
      const q = questions.get(qid);
      const list = q.state === "new" ? "incoming" : q.state === "answered" ? "answered"
        : q.state === "rejected" ? "rejected" : q.state === "grouped" ? "grouped" : null;
      if (list === null) continue;
      totals[list] += 1;
      if (passes(q)) out[list].push(qid);
    }
    for (const qid of queue) {
      const q = questions.get(qid);
      if (q && passes(q)) out.queue.push(qid);
    }
    if (screen && questions.has(screen)) {
      totals.screen = 1;
      if (passes(questions.get(screen))) out.screen.push(screen);
    }
    if (filters.order === "newest") out.incoming.reverse();
    for (const name of ["answered", "rejected", "grouped"]) out[name] = recentFirst(out[name]);
    return { out, totals };
  }

  function recentFirst(ids) {
    const keyed = ids.map((id) => [questions.get(id).updated_at || "", id]);
    keyed.sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
    return keyed.map((pair) => pair[1]);
  }

  // -- cards -------------------------------------------------------------------------------
  const template = $("card-template").content.firstElementChild;

  // One formatter for every card: toLocaleTimeString builds a new one on each call.
  const clock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
  function when(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : clock.format(d);
  }

  function badge(parent, text, cls) {
    const span = document.createElement("span");
    span.className = "badge " + (cls || "");
    span.textContent = text;
    parent.append(span);
  }

  function fillCard(li, q) {
    li.dataset.qid = q.id;
    li.dataset.state = q.state;
    li._v = q.version;
    li.querySelector(".platform").textContent = config.platforms[q.platform] || q.platform;
    const author = q.author_name || q.author_handle || "anonymous";
    li.querySelector(".author").textContent =
      q.author_handle && q.author_handle !== author ? `${author} (@${q.author_handle})` : author;
    const time = li.querySelector(".time");
    const at = q.posted_at || q.received_at;
    time.dateTime = at || "";
    time.textContent = when(at);
    const badges = li.querySelector(".badges");
    badges.replaceChildren();
    if (q.starred) badge(badges, "★ starred", "star");
    if (q.asked_by > 1) badge(badges, `asked by ${q.asked_by}`, "asked");
    if (groupTarget === q.id) badge(badges, "group target", "target");
    if (q.state === "rejected" && q.reject_reason) badge(badges, `rejected: ${q.reject_reason}`, "reason");
    if (q.state === "grouped" && q.parent) {
      const parent = questions.get(q.parent);
      badge(badges, "grouped under: " + (parent ? parent.text.slice(0, 60) : q.parent), "reason");
    }
    if (q.last_actor && q.last_action !== "received") {
      badge(badges, `${DONE[q.last_action] || q.last_action} by ${q.last_actor}`, "actor");
    }
    li.querySelector(".text").textContent = q.text;
    const original = li.querySelector(".original");
    // The original is shown when it says something else than the text (not just spacing),
    // and always while editing.
    original.hidden = !li.classList.contains("editing") &&
      q.original.replace(/\s+/g, " ").trim() === q.text;
    li.querySelector(".original-text").textContent = q.original;
    li.querySelector(".flags").textContent = q.flags.map((f) => FLAG_WORDS[f] || f).join(" · ");
    const link = li.querySelector(".source-link");
    const safe = typeof q.url === "string" && /^https?:\/\//i.test(q.url);
    link.hidden = !safe;
    if (safe) {
      link.href = q.url;
      link.setAttribute("aria-label",
        `original post on ${config.platforms[q.platform] || q.platform} (opens a new tab)`);
    } else {
      link.removeAttribute("href");
    }
    li.draggable = q.state === "approved";
    fillNote(li);
  }

  function fillNote(li) {
    const names = locks.get(li.dataset.qid);
    const note = li.querySelector(".note");
    note.hidden = !names || names.size === 0;
    note.textContent = note.hidden ? "" : `✎ ${[...names].join(", ")} ${names.size > 1 ? "are" : "is"} editing`;
  }

  function cardFor(qid) {
    let li = cards.get(qid);
    const q = questions.get(qid);
    if (!li) {
      li = template.cloneNode(true);
      fillCard(li, q);
      cards.set(qid, li);
    } else if (li._v !== q.version || touched.has(qid)) {
      if (!li.classList.contains("editing")) fillCard(li, q);
    }
    return li;
  }

  function drop(li) {
    if (li.contains(actions)) { actions.hidden = true; document.body.append(actions); }
    li.remove();
    if (cards.get(li.dataset.qid) === li) cards.delete(li.dataset.qid);
  }

  // Make `list` show `ids` (reusing, moving, creating and dropping as few cards as possible).
  function reconcile(list, ids) {
    let ref = list.firstElementChild;
    for (const qid of ids) {
      const li = cardFor(qid);
      if (li === ref) { ref = ref.nextElementSibling; continue; }
      list.insertBefore(li, ref);
    }
    while (ref) { const next = ref.nextElementSibling; drop(ref); ref = next; }
  }

  // -- layout: coalesced to one pass a frame ------------------------------------------------
  let layoutQueued = false;
  function schedule() {
    if (layoutQueued) return;
    layoutQueued = true;
    requestAnimationFrame(layout);
  }

  function layout() {
    layoutQueued = false;
    // Take the focus back to the selection only from nowhere or from a card (or its buttons):
    // never from the search box, a filter, a dialog or an editor.
    const active = document.activeElement;
    const focusWasInCards = !active || active === document.body ||
      (!!active.closest(".card") && active.tagName !== "TEXTAREA");
    const { out, totals } = buckets();
    for (const [name, spec] of Object.entries(LISTS)) {
      const ids = out[name];
      const shown = spec.box && !spec.box.open ? [] : ids.slice(0, spec.limit);
      reconcile(spec.el, shown);
      visible[name] = shown;
      const more = document.querySelector(`[data-more="${name}"]`);
      if (more) {
        more.hidden = !(ids.length > shown.length && (!spec.box || spec.box.open));
        more.textContent = `Show more (${ids.length - shown.length} left)`;
      }
      const n = $("n-" + name);
      if (n) n.textContent = ids.length === totals[name] ? `(${ids.length})` : `(${ids.length} of ${totals[name]})`;
    }
    touched.clear();
    renderPreview();
    restoreSelection(focusWasInCards);
    if (firstRender) {
      firstRender = false;
      performance.mark("floor:first-render");
      requestAnimationFrame(() => setTimeout(() => performance.mark("floor:first-paint"), 0));
    }
  }

  // -- the board preview: the question on screen and the next few of the queue --------------
  let previewSig = "";
  function renderPreview() {
    const current = screen && questions.get(screen);
    const next = queue.slice(0, config.queue_length).map((id) => questions.get(id)).filter(Boolean);
    const sig = [current, ...next].map((q) => q ? q.id + ":" + q.version : "-").join("|");
    if (sig === previewSig) return;
    previewSig = sig;
    const box = $("preview");
    const parts = [];
    if (current) {
      const now = document.createElement("div");
      now.className = "preview-current";
      const text = document.createElement("p");
      text.className = "preview-text";
      text.dir = "auto";
      text.textContent = current.text;
      const who = document.createElement("p");
      who.className = "preview-who";
      const platform = config.platforms[current.platform] || current.platform;
      const author = config.anonymise ? "" : current.author_name;  // as web/screen.py shows it
      who.textContent = [author, platform, current.asked_by > 1 ? `asked by ${current.asked_by} people` : ""]
        .filter(Boolean).join(" · ");
      now.append(text, who);
      parts.push(now);
    } else {
      const empty = document.createElement("p");
      empty.className = "preview-empty";
      empty.textContent = "The screen is clear.";
      parts.push(empty);
    }
    if (next.length) {
      const h = document.createElement("p");
      h.className = "preview-next-title";
      h.textContent = "Next:";
      const ol = document.createElement("ol");
      ol.className = "preview-next";
      for (const q of next) {
        const li = document.createElement("li");
        li.dir = "auto";
        const author = config.anonymise ? "" : q.author_name;
        li.textContent = author ? `${q.text} (${author})` : q.text;
        ol.append(li);
      }
      parts.push(h, ol);
    }
    box.replaceChildren(...parts);
  }

  // -- selection and focus -----------------------------------------------------------------
  const actions = $("actions");

  function idsOf(col) { return LISTS_OF[col].flatMap((name) => visible[name] || []); }

  function restoreSelection(takeFocus) {
    const ids = idsOf(selected.col);
    if (selected.qid && !ids.includes(selected.qid)) {
      // The card left (approved, screened, filtered out): select what took its place.
      selected.qid = ids[Math.min(selected.index, ids.length - 1)] || null;
    } else if (!selected.qid) {
      selected.qid = ids[0] || null;
    }
    selected.index = Math.max(0, ids.indexOf(selected.qid));
    paintSelection(takeFocus);
  }

  function paintSelection(takeFocus) {
    for (const li of document.querySelectorAll(".card.selected")) {
      if (li.dataset.qid !== selected.qid) {
        li.classList.remove("selected");
        li.removeAttribute("aria-current");
      }
    }
    const li = selected.qid && cards.get(selected.qid);
    if (!li) { actions.hidden = true; return; }
    li.classList.add("selected");
    li.setAttribute("aria-current", "true");
    if (!li.contains(actions) && !li.classList.contains("editing")) li.append(actions);
    fillActions(questions.get(selected.qid));
    if (takeFocus && document.activeElement !== li) li.focus({ preventScroll: false });
  }

  // Which actions a question in this state allows (the server's rules, aggregator/moderation).
  function allowed(q) {
    const inQueue = q.state === "approved";
    const pos = queue.indexOf(q.id);
    return {
      approve: q.state === "new",
      reject: q.state === "new" || inQueue,
      edit: ["new", "approved", "on_screen"].includes(q.state),
      screen: q.state === "new" || inQueue,
      answer: q.state === "on_screen",
      unscreen: q.state === "on_screen",
      up: inQueue && pos > 0,
      down: inQueue && pos >= 0 && pos < queue.length - 1,
      target: !["rejected", "grouped"].includes(q.state),
      group: (q.state === "new" || inQueue) && groupTarget !== null && groupTarget !== q.id,
      star: true,
      undo: q.last_action !== "received",
    };
  }

  function fillActions(q) {
    if (!q) { actions.hidden = true; return; }
    const can = allowed(q);
    for (const button of actions.querySelectorAll("button")) {
      button.hidden = !can[button.dataset.act];
    }
    actions.querySelector('[data-act="star"]').firstChild.textContent = q.starred ? "Unstar " : "Star ";
    actions.hidden = false;
  }

  function select(col, qid, focus = true) {
    selected = { col, qid, index: Math.max(0, idsOf(col).indexOf(qid)) };
    paintSelection(focus);
  }

  function move(step) {
    const ids = idsOf(selected.col);
    if (!ids.length) return;
    let i = ids.indexOf(selected.qid) + step;
    if (i >= ids.length) {
      // Past the last rendered card: show the next page of that column, if there is one.
      const name = LISTS_OF[selected.col].slice(-1)[0];
      const more = document.querySelector(`[data-more="${name}"]`);
      if (more && !more.hidden) {
        LISTS[name].limit += PAGE;
        layout();
        return move(step);
      }
    }
    i = Math.max(0, Math.min(ids.length - 1, i));
    select(selected.col, ids[i]);
  }

  function moveColumn(step) {
    const i = COLUMNS.indexOf(selected.col);
    goColumn(COLUMNS[Math.max(0, Math.min(COLUMNS.length - 1, i + step))]);
  }

  function goColumn(col) {
    if (col === "aside") {
      // The set-aside lists are collapsed until someone goes there.
      if (!$("box-rejected").open) { $("box-rejected").open = true; layout(); }
    }
    const ids = idsOf(col);
    if (!ids.length) {
      selected = { col, qid: null, index: 0 };
      paintSelection(false);
      document.querySelector(`#col-${col} .scroll`).focus();
      say(`${$("h-" + col).firstChild.textContent.trim()}: empty`);
      return;
    }
    select(col, ids[0]);
  }

  // -- messages ----------------------------------------------------------------------------
  let sayTimer = null;
  function say(text) {
    // Polite, for screen readers; a new message replaces one not yet read.
    const region = $("announce");
    region.textContent = "";
    clearTimeout(sayTimer);
    sayTimer = setTimeout(() => { region.textContent = text; }, 50);
  }

  let alertTimer = null;
  function warn(text, qid) {
    const region = $("alert");
    region.textContent = text;
    region.classList.add("shown");
    clearTimeout(alertTimer);
    alertTimer = setTimeout(() => { region.classList.remove("shown"); region.textContent = ""; }, 10000);
    const li = qid && cards.get(qid);
    if (li) {
      const msg = li.querySelector(".card-msg");
      msg.textContent = text;
      msg.hidden = false;
      clearTimeout(li._msgTimer);
      li._msgTimer = setTimeout(() => { msg.hidden = true; }, 10000);
    }
  }

  // -- actions -----------------------------------------------------------------------------
  const socket = io(config.namespace, {
    transports: ["websocket", "polling"],
    // On a reconnect, tell the server we have state: it skips the snapshot and we catch up.
    auth: (cb) => cb(lastId === null ? {} : { after: lastId }),
  });

  function act(action, q, params, done) {
    if (!socket.connected) {
      warn("Not connected: wait until the console says live, then try again.", q && q.id);
      return;
    }
    const payload = { action, qid: q ? q.id : "", version: q ? q.version : 0, params: params || {} };
    socket.timeout(ACK_TIMEOUT).emit(E.act, payload, (err, reply) => {
      if (err) { warn("No answer from the server: check the question before trying again.", q && q.id); return; }
      if (!reply.ok) { warn(reply.error, q && q.id); return; }
      const li = q && cards.get(q.id);
      if (li) li.querySelector(".card-msg").hidden = true;
      if (done) done();
    });
  }

  function current() { return selected.qid ? questions.get(selected.qid) : null; }

  const PAST = { approve: "Approved", star: "Starred", unstar: "Unstarred", undo: "Undone",
    answer: "Marked answered", unscreen: "Taken off screen", screen: "On screen",
    group: "Grouped", reject: "Rejected", edit: "Saved", reorder: "Moved" };

  function simple(action, q, params) {
    if (!q) return;
    act(action, q, params, () => say(`${PAST[action] || action}: ${q.text.slice(0, 80)}`));
  }

  const VERB = { approve: "approve", reject: "reject", edit: "edit", screen: "put on screen",
    group: "group", up: "move", down: "move" };

  function doAction(name) {
    const q = current();
    if (q && VERB[name] && !allowed(q)[name] && !(name === "group" && !groupTarget)) {
      if ((name === "up" || name === "down") && q.state === "approved") return null;  // at an end
      warn(`Cannot ${VERB[name]} a question that is ${STATE_WORDS[q.state]}.`, q.id);
      return null;
    }
    switch (name) {
      case "approve": return q && simple("approve", q);
      case "reject": return q && openReasons(q);
      case "edit": return q && startEdit(q);
      case "screen": return q && askScreen(q);
      case "answer":
      case "unscreen":
        if (!screen || !questions.get(screen)) { warn("Nothing is on screen."); return null; }
        return simple(name, questions.get(screen));
      case "star": return q && simple(q.starred ? "unstar" : "star", q);
      case "undo": return q && simple("undo", q);
      case "target": return q && markTarget(q);
      case "group": return q && groupUnderTarget(q);
      case "up": return q && reorder(q, -1);
      case "down": return q && reorder(q, +1);
      case "clear": return clearScreen();
    }
  }

  function reorder(q, step) {
    const pos = queue.indexOf(q.id);
    if (pos < 0) { warn("Only questions in the queue can be moved.", q.id); return; }
    const index = pos + step;
    if (index < 0 || index >= queue.length) return;
    simple("reorder", q, { index });
  }

  function clearScreen() {
    if (!screen) { warn("The screen is already clear."); return; }
    act("clear", null, {}, () => say("Screen cleared. The question went back to the front of the queue."));
    document.body.classList.add("flash-clear");
    setTimeout(() => document.body.classList.remove("flash-clear"), 800);
  }

  function markTarget(q) {
    const before = groupTarget;
    groupTarget = groupTarget === q.id ? null : q.id;
    for (const id of [before, groupTarget]) { if (id && cards.has(id)) touched.add(id); }
    const info = $("target-info");
    info.hidden = groupTarget === null;
    info.textContent = groupTarget ? `Group target: “${q.text.slice(0, 50)}” (press g on a duplicate)` : "";
    say(groupTarget ? "Marked as the group target. Select a duplicate and press g." : "Group target cleared.");
    schedule();
  }

  function groupUnderTarget(q) {
    if (!groupTarget) { warn("Mark the main question with m first, then press g on the duplicate.", q.id); return; }
    if (groupTarget === q.id) { warn("That is the group target itself: select a duplicate.", q.id); return; }
    simple("group", q, { parent: groupTarget });
  }

  // Reject: one key picks the reason.
  const reasons = $("reasons");
  let rejecting = null;
  function openReasons(q) {
    if (!(q.state === "new" || q.state === "approved")) { warn(`Cannot reject a question that is ${STATE_WORDS[q.state]}.`, q.id); return; }
    rejecting = q;
    $("reasons-question").textContent = "“" + q.text.slice(0, 120) + (q.text.length > 120 ? "…”" : "”");
    reasons.showModal();
    reasons.querySelector("button").focus();
  }
  function pickReason(i) {
    const reason = REASONS[i];
    const q = rejecting;
    closeDialog(reasons);
    if (q && reason) simple("reject", q, { reason });
  }
  reasons.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-reason]");
    if (b) pickReason([...reasons.querySelectorAll("button[data-reason]")].indexOf(b));
  });

  // Screen: ask what happens to the question on screen now (default: answered).
  const screenAsk = $("screen-ask");
  let screening = null;
  function askScreen(q) {
    if (!(q.state === "new" || q.state === "approved")) { warn(`Cannot put on screen a question that is ${STATE_WORDS[q.state]}.`, q.id); return; }
    const now = screen && questions.get(screen);
    if (!now) { simple("screen", q, { then: "answered" }); return; }
    screening = q;
    $("screen-ask-current").textContent = "“" + now.text.slice(0, 80) + "”";
    screenAsk.showModal();
    screenAsk.querySelector('[data-then="answered"]').focus();
  }
  function pickThen(then) {
    const q = screening;
    closeDialog(screenAsk);
    if (q) simple("screen", q, { then });
  }
  screenAsk.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-then]");
    if (b) pickThen(b.dataset.then);
  });

  const help = $("help");
  function closeDialog(dialog) {
    if (dialog.open) dialog.close();
  }
  for (const dialog of [reasons, screenAsk, help]) {
    dialog.addEventListener("click", (ev) => { if (ev.target.closest("[data-close]")) closeDialog(dialog); });
    dialog.addEventListener("close", () => {
      rejecting = null; screening = null;
      paintSelection(true);
    });
  }
  $("help-open").addEventListener("click", () => help.showModal());
  $("clear-screen").addEventListener("click", clearScreen);

  // Edit inline: the original stays visible below; Enter saves, Esc cancels.
  function startEdit(q) {
    if (!["new", "approved", "on_screen"].includes(q.state)) { warn(`Cannot edit a question that is ${STATE_WORDS[q.state]}.`, q.id); return; }
    const li = cards.get(q.id);
    if (!li || li.classList.contains("editing")) return;
    const others = locks.get(q.id);
    if (others && others.size && li._warnedLock !== q.version) {
      li._warnedLock = q.version;
      warn(`${[...others].join(", ")} ${others.size > 1 ? "are" : "is"} editing this question. Press e again to edit anyway.`, q.id);
      return;
    }
    const version = q.version;
    li.classList.add("editing");
    const text = li.querySelector(".text");
    const area = document.createElement("textarea");
    area.className = "edit";
    area.value = q.text;
    area.dir = "auto";
    area.rows = Math.min(8, Math.max(2, Math.ceil(q.text.length / 60)));
    area.setAttribute("aria-label", "Edit the text the board shows (Enter saves, Escape cancels)");
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "Enter saves · Esc cancels · the original stays as received";
    text.hidden = true;
    text.after(area, hint);
    li.querySelector(".original").hidden = false;
    actions.hidden = true;
    area.focus();
    area.select();
    socket.emit(E.editing, { qid: q.id });
    const finish = (save) => {
      area.removeEventListener("keydown", onKey);
      area.removeEventListener("blur", onBlur);
      const value = area.value.trim();
      const end = () => {
        area.remove(); hint.remove();
        text.hidden = false;
        li.classList.remove("editing");
        fillCard(li, questions.get(q.id));
        paintSelection(true);
      };
      if (save && value && value !== q.text) {
        act("edit", { id: q.id, version, text: q.text }, { text: value }, () => say("Saved the new text."));
      }
      socket.emit(E.editing_done, { qid: q.id });
      end();
    };
    const onKey = (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); finish(true); }
      else if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); finish(false); }
    };
    // Leaving the editor by mouse or Tab keeps the draft out of the way: treat it as cancel.
    const onBlur = () => setTimeout(() => { if (li.classList.contains("editing")) finish(false); }, 0);
    area.addEventListener("keydown", onKey);
    area.addEventListener("blur", onBlur);
  }

  // -- the keyboard ------------------------------------------------------------------------
  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey) return;
    if (reasons.open) {
      const n = Number(ev.key);
      if (Number.isInteger(n) && n >= 1 && n <= REASONS.length) { ev.preventDefault(); pickReason(n - 1); }
      return;
    }
    if (screenAsk.open) {
      if (ev.key === "q") { ev.preventDefault(); pickThen("queue"); }
      else if (ev.key === "a") { ev.preventDefault(); pickThen("answered"); }
      return;
    }
    if (help.open) {
      if (ev.key === "?") { ev.preventDefault(); closeDialog(help); }
      return;
    }
    if (typing(ev.target)) {
      if (ev.target.id === "search" && (ev.key === "Escape" || ev.key === "Enter")) {
        ev.preventDefault();
        ev.target.blur();
        goColumn(selected.col);
      }
      return;
    }
    if (ev.altKey) {
      if (ev.key === "ArrowUp") { ev.preventDefault(); doAction("up"); }
      else if (ev.key === "ArrowDown") { ev.preventDefault(); doAction("down"); }
      return;
    }
    const keys = {
      j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
      h: () => moveColumn(-1), ArrowLeft: () => moveColumn(-1),
      l: () => moveColumn(1), ArrowRight: () => moveColumn(1),
      Home: () => { const ids = idsOf(selected.col); if (ids.length) select(selected.col, ids[0]); },
      End: () => { const ids = idsOf(selected.col); if (ids.length) select(selected.col, ids[ids.length - 1]); },
      1: () => goColumn("incoming"), 2: () => goColumn("queue"),
      3: () => goColumn("screen"), 4: () => goColumn("aside"),
      a: () => doAction("approve"), r: () => doAction("reject"), e: () => doAction("edit"),
      s: () => doAction("screen"), d: () => doAction("answer"), o: () => doAction("unscreen"),
      m: () => doAction("target"), g: () => doAction("group"), "*": () => doAction("star"),
      u: () => doAction("undo"), c: () => doAction("clear"),
      "/": () => $("search").focus(),
      "?": () => help.showModal(),
      Escape: () => { if (groupTarget) markTarget(questions.get(groupTarget) || { id: groupTarget, text: "" }); },
    };
    const fn = keys[ev.key];
    if (!fn) return;
    // Buttons and links keep their own Enter/Space; letters work everywhere else.
    ev.preventDefault();
    fn();
  });

  // Mouse: a click selects a card; the action bar acts on the selection.
  $("columns").addEventListener("click", (ev) => {
    const more = ev.target.closest("button[data-more]");
    if (more) { LISTS[more.dataset.more].limit += PAGE; layout(); return; }
    const button = ev.target.closest("#actions button");
    if (button) { doAction(button.dataset.act); return; }
    if (ev.target.closest("a, textarea")) return;
    const li = ev.target.closest(".card");
    if (li) select(li.closest(".column").dataset.col, li.dataset.qid, true);
  });
  $("columns").addEventListener("focusin", (ev) => {
    const li = ev.target.closest && ev.target.closest(".card");
    if (li && li.dataset.qid !== selected.qid) select(li.closest(".column").dataset.col, li.dataset.qid, false);
    else if (ev.target.classList.contains("scroll")) {
      const col = ev.target.closest(".column").dataset.col;
      if (col !== selected.col) { selected = { col, qid: null, index: 0 }; restoreSelection(false); }
    }
  });
  for (const box of [$("box-rejected"), $("box-grouped")]) box.addEventListener("toggle", schedule);

  // Drag to reorder the queue.
  const queueList = LISTS.queue.el;
  let dragging = null;
  queueList.addEventListener("dragstart", (ev) => {
    const li = ev.target.closest(".card");
    if (!li) return;
    dragging = li.dataset.qid;
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", dragging);
    li.classList.add("dragging");
  });
  queueList.addEventListener("dragend", (ev) => {
    const li = ev.target.closest(".card");
    if (li) li.classList.remove("dragging");
    dragging = null;
  });
  queueList.addEventListener("dragover", (ev) => { if (dragging) ev.preventDefault(); });
  queueList.addEventListener("drop", (ev) => {
    ev.preventDefault();
    const q = dragging && questions.get(dragging);
    if (!q) return;
    const over = ev.target.closest(".card");
    const from = queue.indexOf(q.id);
    let to = over ? queue.indexOf(over.dataset.qid) : queue.length - 1;
    if (to < 0 || to === from) return;
    const rect = over ? over.getBoundingClientRect() : null;
    if (rect && ev.clientY > rect.top + rect.height / 2 && to < from) to += 1;
    if (rect && ev.clientY < rect.top + rect.height / 2 && to > from) to -= 1;
    simple("reorder", q, { index: to });
  });

  // Filters and search.
  let searchTimer = null;
  $("search").addEventListener("input", (ev) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { filters.text = ev.target.value.trim().toLowerCase(); schedule(); }, 120);
  });
  for (const [id, key] of [["f-platform", "platform"], ["f-state", "state"], ["f-flag", "flag"], ["f-order", "order"]]) {
    $(id).addEventListener("change", (ev) => { filters[key] = ev.target.value; schedule(); });
  }

  // -- the log: snapshot, entries by id, catch-up --------------------------------------------
  // Stream ids are "milliseconds-sequence"; later ids compare greater part by part.
  function isAfter(a, b) {
    const [am, as] = a.split("-").map(Number);
    const [bm, bs] = b.split("-").map(Number);
    return am > bm || (am === bm && as > bs);
  }

  function upsert(q) {
    const old = questions.get(q.id);
    if (!old) { order.push(q.id); questions.set(q.id, q); touched.add(q.id); return true; }
    if (q.version > old.version) { questions.set(q.id, q); touched.add(q.id); return true; }
    return false;
  }

  function applyEntry(entry, live) {
    if (lastId !== null && !isAfter(entry.id, lastId)) return;
    lastId = entry.id;
    for (const q of entry.qs || []) {
      if (upsert(q) && q.parent) touched.add(q.parent);
    }
    if (Array.isArray(entry.queue)) queue = entry.queue;
    if (typeof entry.screen === "string") screen = entry.screen || null;
    if (live && entry.type === "received") newSinceAnnounce += 1;
    if (entry.type === "edit" || entry.type === "group") touched.add(entry.qid);
    schedule();
  }

  function applySnapshot(snap) {
    questions.clear();
    for (const li of cards.values()) li.remove();
    cards.clear();
    order = [];
    for (const q of snap.questions) { questions.set(q.id, q); order.push(q.id); }
    queue = snap.queue;
    screen = snap.screen || null;
    lastId = snap.last_id;
    schedule();
  }

  function flush() {
    const pending = buffered;
    buffered = [];
    syncing = false;
    for (const entry of pending) applyEntry(entry, true);
  }

  function setConn(state, text) {
    const el = $("conn");
    el.dataset.state = state;
    el.textContent = text;
  }

  socket.on("connect", () => {
    if (firstRender) performance.mark("floor:connected");
    setConn("live", "live");
    syncing = true;
    if (lastId === null) return;  // the server sends a snapshot
    socket.timeout(30000).emit(E.catch_up, { after: lastId }, (err, reply) => {
      if (err || reply.reload) { resync(); return; }
      for (const entry of reply.entries) applyEntry(entry, false);
      flush();
    });
  });

  function resync() {
    // Too far behind (or the log was reset): start again from a snapshot.
    lastId = null;
    socket.disconnect();
    socket.connect();
  }

  socket.on("disconnect", () => { setConn("down", "reconnecting…"); syncing = true; });
  socket.on("connect_error", (err) => {
    if (err && /log in/.test(err.message)) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname));
      return;
    }
    setConn("down", "cannot connect: " + (err ? err.message : "unknown error") + " (retrying)");
    // A refusal from the server ends the client's own retries: try again ourselves.
    if (!socket.active) setTimeout(() => socket.connect(), 3000);
  });
  socket.on(E.snapshot, (snap) => {
    if (firstRender) performance.mark("floor:snapshot");
    applySnapshot(snap);
    flush();
  });
  socket.on(E.entry, (entry) => {
    if (syncing) buffered.push(entry); else applyEntry(entry, true);
  });

  // New questions are announced politely, at most every few seconds.
  setInterval(() => {
    if (newSinceAnnounce > 0) {
      say(newSinceAnnounce === 1 ? "1 new question" : `${newSinceAnnounce} new questions`);
      newSinceAnnounce = 0;
    }
  }, 4000);

  // -- presence and soft locks --------------------------------------------------------------
  function setLocks(qid, names) {
    const mine = [...names].filter((n) => n !== ME);
    if (mine.length) locks.set(qid, new Set(mine)); else locks.delete(qid);
    const li = cards.get(qid);
    if (li) fillNote(li);
  }

  socket.on(E.presence, (state) => {
    online = state.online || [];
    $("online").textContent = online.length ? online.join(", ") : "nobody";
    const seen = new Set(Object.keys(state.editing || {}));
    for (const qid of [...locks.keys()]) if (!seen.has(qid)) setLocks(qid, []);
    for (const [qid, names] of Object.entries(state.editing || {})) setLocks(qid, names);
  });
  socket.on(E.editing, ({ qid, moderator }) => {
    if (moderator === ME) return;
    setLocks(qid, [...(locks.get(qid) || []), moderator]);
  });
  socket.on(E.editing_done, ({ qid, moderator }) => {
    setLocks(qid, [...(locks.get(qid) || [])].filter((n) => n !== moderator));
  });

  // -- the sources' health ------------------------------------------------------------------
  let health = { now: null, sources: [], offset: 0 };

  function ago(iso) {
    if (!iso) return "never";
    const seconds = (Date.now() + health.offset - new Date(iso).getTime()) / 1000;
    if (!(seconds >= 0)) return "just now";
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }

  function fact(list, term, text, cls) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = text;
    if (cls) dd.className = cls;
    list.append(dt, dd);
    return dd;
  }

  function renderHealth() {
    const box = $("health");
    if (!health.sources.length) return;
    const blocks = [];
    for (const s of health.sources) {
      const block = document.createElement("section");
      block.className = "source verdict-" + s.verdict;
      block.setAttribute("aria-label", s.label);
      const title = document.createElement("h3");
      const name = document.createElement("span");
      name.textContent = s.label;
      const verdict = document.createElement("span");
      verdict.className = "verdict";
      verdict.textContent = s.verdict === "ok" ? "ok" : s.verdict;
      title.append(name, " ", verdict);
      const summary = document.createElement("p");
      summary.className = "summary";
      summary.textContent = s.summary;
      const facts = document.createElement("dl");
      fact(facts, "Last poll", ago(s.last_poll), "ago").dataset.at = s.last_poll;
      fact(facts, "Items", `${s.last_items} last poll, ${s.items_total} in all`);
      fact(facts, "Rate limit", s.paused_until && s.verdict === "paused"
        ? `${s.rate}, until ${when(s.paused_until)}` : s.rate);
      fact(facts, "Dead letters", String(s.dead_letters), s.dead_letters ? "dead" : "");
      if (s.last_error && !s.summary.includes(s.last_error)) fact(facts, "Last error", s.last_error);
      if (s.detail) fact(facts, "Detail", s.detail);
      block.append(title, summary, facts);
      blocks.push(block);
    }
    box.replaceChildren(...blocks);
    const failing = health.sources.filter((s) => s.verdict === "failing");
    const alarm = $("health-alarm");
    alarm.hidden = failing.length === 0;
    alarm.textContent = failing.length === 1 ? `⚠ ${failing[0].label} is failing`
      : `⚠ ${failing.length} sources failing`;
  }

  socket.on(E.health, (report) => {
    health = { ...report, offset: new Date(report.now).getTime() - Date.now() };
    renderHealth();
  });
  setInterval(() => {
    for (const td of document.querySelectorAll("#health dd.ago")) td.textContent = ago(td.dataset.at);
  }, 5000);

  // For the tests and for debugging from the browser's console.
  window.floorConsole = {
    socket,
    lastId: () => lastId,
    count: () => questions.size,
    cardsInDom: () => cards.size,
  };
})();
