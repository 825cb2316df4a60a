// What the console draws: cards in columns, the selection and its action bar, the board
// preview, the sources' health, messages. Cards are compact (one line) until selected; long
// lists are drawn lazily (window.js): the DOM holds only the cards near the viewport, and a list
// asks the server for its next page (`pager`) as a moderator scrolls or walks near the end of
// what the console holds. Cards are kept by question id and only touched ones are refilled.
// Post text is set with textContent, never as HTML.
import { suggestItem, titleOf } from "./chair_panel.js";
import { applies, buckets, itemOf, offered, preview, reselect, searchCountText, searchMoreText, stateWords } from "./state.js";
import { OWN, barGroups, cardActions, doneWords, helpRows, surroundings } from "./table.js";
import { scrollTo, spacers, wantsPage, windowOf } from "./window.js";

// The height of a compact card plus the gap below it, in px: console.css (.cards > .card) sets
// both (4.3rem and 4px); the view measures a drawn card and uses that if the page's fonts or
// zoom made it differ.
export const ROW = 73;
// Room left under a selected (expanded) card when it is scrolled into view.
const EXPANDED = 160;
const $ = (id) => document.getElementById(id);

const FLAG_WORDS = {
  question: "looks like a question", markup: "had markup", hidden_chars: "hidden characters",
  rtl: "right-to-left", truncated: "cut short", zalgo: "stacked accents",
  rehearsal: "rehearsal", deleted: "deleted by author", original_capped: "very long original",
  repaired: "broken characters mended", paid: "paid (Super Chat)", author_banned: "author banned",
  time_first_seen: "time first seen", reply: "a reply",
  content_warning: "content warning", edited: "edited",
  abuse: "abuse", personal_data: "personal data masked", repeat: "looks like a repeat",
};
// One formatter for every card: toLocaleTimeString builds a new one on each call.
const clock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : clock.format(d);
}

function badge(parent, text, cls) {
  const span = document.createElement("span");
  span.className = "badge " + (cls || "");
  span.textContent = text;
  parent.append(span);
}

function kbd(text) {
  const k = document.createElement("kbd");
  k.textContent = text;
  return k;
}

export class View {
  constructor(config, model) {
    this.config = config;
    this.table = config.actions;
    this.model = model;
    this.cards = new Map();        // qid -> <li> for the cards in the DOM
    this.visible = {};             // list name -> qids drawn (in the DOM), in order
    this.held = {};                // list name -> every qid the console holds for it, in order
    this.row = ROW;                // measured once cards are drawn
    this.pager = null;             // (list) => asks the server for the list's next page (or matches)
    this.walking = null;           // a move waiting for a page: { col, step }
    this.locks = new Map();        // qid -> Set of other moderators editing it
    this.selected = { col: "incoming", qid: null, index: 0 };
    this.groupTarget = null;
    this.agenda = { items: [], current: "" };
    this.filters = { text: "", platform: "", state: "", flag: "", order: "oldest", item: "", agenda: this.agenda };
    this.firstRender = true;
    this.layoutQueued = false;
    this.previewSig = "";
    this.template = $("card-template").content.firstElementChild;
    this.actions = $("actions");
    const list = (name, col, box) => ({ el: $("list-" + name), col, box: box ? $(box) : null });
    this.lists = {
      incoming: list("incoming", "incoming"),
      queue: list("queue", "queue"),
      screen: list("screen", "screen"),
      answered: list("answered", "screen"),
      held: list("held", "aside", "box-held"),
      rejected: list("rejected", "aside", "box-rejected"),
      grouped: list("grouped", "aside", "box-grouped"),
    };
    this.columns = ["incoming", "queue", "screen", "aside"];
    this.listsOf = { incoming: ["incoming"], queue: ["queue"], screen: ["screen", "answered"],
      aside: ["held", "rejected", "grouped"] };
  }

  words(state) { return stateWords(this.config.states, state); }

  // -- the action bar and the keys' help, from the table ---------------------------------------

  // The selected card's buttons, one per group of the bar (barGroups), made once: fillActions
  // puts the few the table marks primary on the card and the rest in its "More" menu.
  buildActions(drivable) {
    this.groups = barGroups(this.table, drivable);
    this.buttons = new Map(this.groups.map((group) => {
      const { names, key } = group;
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.act = names[0];
      b.dataset.names = names.join(" ");
      b.setAttribute("aria-keyshortcuts", key);
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = (this.table[names[0]] || OWN[names[0]]).label;
      b.append(label);
      if (key.length === 1) b.append(" ", kbd(key));
      return [b.dataset.names, b];
    }));
    this.actionsMain = document.createElement("div");
    this.actionsMain.className = "actions-main";
    this.menuButton = document.createElement("button");
    this.menuButton.type = "button";
    this.menuButton.className = "menu-toggle";
    this.menuButton.dataset.menu = "";
    this.menuButton.setAttribute("aria-expanded", "false");
    this.menuButton.setAttribute("aria-controls", "actions-more");
    this.menuButton.textContent = "More…";
    this.actionsMore = document.createElement("div");
    this.actionsMore.id = "actions-more";
    this.actionsMore.className = "actions-more";
    this.actionsMore.setAttribute("role", "group");
    this.actionsMore.setAttribute("aria-label", "More actions (their keys are in the keys' list, ?)");
    this.actionsMore.hidden = true;
    this.actions.replaceChildren(this.actionsMain, this.actionsMore);
    this.menuFor = null;  // the question whose menu is open
    this.around = null;
    const clear = this.table.clear;
    const clearButton = $("clear-screen");
    if (clear && clear.key) {
      clearButton.setAttribute("aria-keyshortcuts", clear.key);
      clearButton.querySelector("kbd").textContent = clear.key;
    } else {
      clearButton.hidden = !clear;
    }
  }

  // Open or close the selected card's "More" menu; closed, the focus goes back to the card.
  toggleMenu(open = this.actionsMore.hidden) {
    const q = this.current();
    this.menuFor = open && q ? q.id : null;
    if (!this.menuFor) { this.paintSelection(true); return; }
    this.fillActions(q);
    const first = this.actionsMore.querySelector("button");
    if (first) first.focus({ preventScroll: true });
  }

  buildHelp(drivable) {
    const rows = helpRows(this.table, drivable).map(({ key, text }) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.append(kbd(key));
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(th, td);
      return tr;
    });
    $("help-actions").replaceChildren(...rows);
  }

  // -- cards ---------------------------------------------------------------------------------

  fillCard(li, q) {
    const { config, table } = this;
    li.dataset.qid = q.id;
    li.dataset.state = q.state;
    li._v = q.version;
    li.querySelector(".platform").textContent = config.platforms[q.platform] || q.platform;
    const author = q.author_name || q.author_handle || "anonymous";
    li.querySelector(".author").textContent = author;
    // The handle beside the name, the first thing a narrow card leaves out.
    li.querySelector(".handle").textContent =
      q.author_handle && q.author_handle !== author ? `@${q.author_handle}` : "";
    const time = li.querySelector(".time");
    const at = q.posted_at || q.received_at;
    time.dateTime = at || "";
    time.textContent = when(at);
    const badges = li.querySelector(".badges");
    badges.replaceChildren();
    if (q.starred) badge(badges, "★ starred", "star");
    if (q.asked_by > 1) {
      const on = Object.keys(q.asked_on || {}).map((p) => config.platforms[p] || p);
      badge(badges, `asked by ${q.asked_by}` + (on.length > 1 ? ` on ${on.join(", ")}` : ""), "asked");
    }
    if (q.directed_to) badge(badges, `for ${q.directed_to}`, "item");
    const item = itemOf(q, this.agenda);
    if (item) badge(badges, `on ${titleOf(this.agenda, item)}`, "item");
    else if (q.item) badge(badges, "its agenda item was removed", "item");
    else if (q.state === "new" || q.state === "approved") {
      const suggested = suggestItem(q.text, this.agenda.items);
      if (suggested) badge(badges, `${titleOf(this.agenda, suggested)}? (t)`, "suggest");
    }
    if (this.groupTarget === q.id) badge(badges, "group target", "target");
    if (q.state === "rejected" && q.reject_reason) badge(badges, `rejected: ${q.reject_reason}`, "reason");
    if (q.state === "held" && q.aside_reason) badge(badges, `set aside: ${q.aside_reason}`, "reason");
    const picked = !!(this.picks && this.picks.has(q.id));  // commands.js: x picks a card
    li.classList.toggle("picked", picked);
    if (picked) badge(badges, "✓ picked", "target");
    if (q.state === "grouped" && q.parent) {
      const parent = this.model.get(q.parent);
      badge(badges, "grouped under: " + (parent ? parent.text.slice(0, 60) : q.parent), "reason");
    }
    if (q.last_actor && q.last_action !== "received") {
      badge(badges, `${doneWords(config, q.last_action)} by ${q.last_actor}`, "actor");
    }
    li.querySelector(".text").textContent = q.text;
    this.fillTriage(li, q);
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
    li.draggable = applies(table, "reorder", q);
    this.fillNote(li);
  }

  // What triage found: the question score and why, abuse, what was masked, the repeat it suggests.
  fillTriage(li, q) {
    let line = li.querySelector(".triage");
    if (!line) {
      line = document.createElement("p");
      line.className = "triage";
      li.querySelector(".text").after(line);
    }
    const t = q.triage || {};
    const parts = [];
    if (typeof t.score === "number") parts.push(`question ${Math.round(t.score * 100)}%: ${t.reason}`);
    if (t.abuse) parts.push(`⚠ abuse: ${t.abuse}`);
    if (Array.isArray(t.masked)) parts.push(`masked: ${t.masked.join(", ")} (original below)`);
    if (t.suggest) {
      const other = this.model.get(t.suggest.qid);
      const where = other ? ` on ${this.config.platforms[other.platform] || other.platform}` : "";
      parts.push(`repeats “${(other ? other.text : t.suggest.qid).slice(0, 60)}”${where}: g groups, n dismisses`);
    }
    if (t.error) parts.push(`triage failed (${t.error})`);
    line.textContent = parts.join(" · ");
    line.hidden = parts.length === 0;
  }

  fillNote(li) {
    const names = this.locks.get(li.dataset.qid);
    const note = li.querySelector(".note");
    note.hidden = !names || names.size === 0;
    note.textContent = note.hidden ? "" : `✎ ${[...names].join(", ")} ${names.size > 1 ? "are" : "is"} editing`;
  }

  setLocks(qid, names, me) {
    const others = [...names].filter((n) => n !== me);
    if (others.length) this.locks.set(qid, new Set(others)); else this.locks.delete(qid);
    const li = this.cards.get(qid);
    if (li) this.fillNote(li);
  }

  cardFor(qid) {
    let li = this.cards.get(qid);
    const q = this.model.get(qid);
    if (!li) {
      li = this.template.cloneNode(true);
      this.fillCard(li, q);
      this.cards.set(qid, li);
    } else if (li._v !== q.version || this.model.touched.has(qid)) {
      if (!li.classList.contains("editing")) this.fillCard(li, q);
    }
    return li;
  }

  drop(li) {
    if (li.contains(this.actions)) { this.actions.hidden = true; document.body.append(this.actions); }
    li.remove();
    if (this.cards.get(li.dataset.qid) === li) this.cards.delete(li.dataset.qid);
  }

  // Make `list` show `ids` (reusing, moving, creating and dropping as few cards as possible).
  reconcile(list, ids) {
    let ref = list.firstElementChild;
    for (const qid of ids) {
      const li = this.cardFor(qid);
      if (li === ref) { ref = ref.nextElementSibling; continue; }
      list.insertBefore(li, ref);
    }
    while (ref) { const next = ref.nextElementSibling; this.drop(ref); ref = next; }
  }

  // A new snapshot: every card goes.
  reset() {
    for (const li of this.cards.values()) li.remove();
    this.cards.clear();
  }

  // -- layout: coalesced to one pass a frame ---------------------------------------------------

  schedule() {
    if (this.layoutQueued) return;
    this.layoutQueued = true;
    requestAnimationFrame(() => this.layout());
  }

  // Whether a search or a filter is on (for `list`: Incoming's "questions only" filters it alone).
  filtering(list = "") {
    const f = this.filters;
    return !!(f.text || f.platform || f.state || f.flag || f.item) || (list === "incoming" && f.order === "questions");
  }

  // Where each list sits in its scroller, read before anything is written (one layout read).
  geometry() {
    const out = {};
    for (const [name, spec] of Object.entries(this.lists)) {
      const scroller = spec.el.closest(".scroll");
      out[name] = { top: scroller.scrollTop - spec.el.offsetTop, height: scroller.clientHeight };
    }
    return out;
  }

  layout() {
    this.layoutQueued = false;
    // Take the focus back to the selection only from nowhere or from a card (or its buttons):
    // never from the search box, a filter, a dialog or an editor.
    const active = document.activeElement;
    const focusWasInCards = !active || active === document.body ||
      (!!active.closest(".card") && active.tagName !== "TEXTAREA");
    const { out, totals, more, scanned } = this.lists_();
    const geometry = this.geometry();
    for (const [name, spec] of Object.entries(this.lists)) {
      const filtering = this.filtering(name);
      const closed = spec.box && !spec.box.open;
      const ids = closed ? [] : out[name];
      this.held[name] = ids;
      const { top, height } = geometry[name];
      const { start, end } = windowOf(ids.length, this.row, top, height);
      const shown = ids.slice(start, end);
      const pad = spacers(ids.length, this.row, start, end);
      spec.el.style.paddingTop = `${pad.before}px`;
      spec.el.style.paddingBottom = `${pad.after}px`;
      this.reconcile(spec.el, shown);
      this.visible[name] = shown;
      const button = document.querySelector(`[data-more="${name}"]`);
      if (button) {
        button.hidden = closed || !more[name];
        button.textContent = filtering ? searchMoreText(scanned[name], totals[name])
          : `Load more (${Math.max(0, totals[name] - out[name].length)} not loaded yet)`;
      }
      const n = $("n-" + name);
      // A closed box is not searched until it is opened: its count stays the whole list's.
      if (n) n.textContent = filtering && !closed ? searchCountText(ids.length, totals[name], more[name], scanned[name]) : `(${totals[name]})`;
      // A list drawn near the end of what is held asks for more: with a filter on, the server
      // searches on from where it got to, so a search with few matches reaches through the event.
      if (!closed && wantsPage(end, ids.length, more[name]) && this.pager) this.pager(name);
    }
    this.measure();
    this.model.touched.clear();
    this.renderPreview();
    this.restoreSelection(focusWasInCards);
    if (this.firstRender) {
      this.firstRender = false;
      performance.mark("floor:first-render");
      requestAnimationFrame(() => setTimeout(() => performance.mark("floor:first-paint"), 0));
    }
  }

  // The lists, recomputed only when the model or the filters changed: a scroll redraws the
  // window over the same lists (with 50,000 questions held, a recount would cost a frame).
  lists_() {
    const f = this.filters;
    const key = [this.model.changes, f.text, f.platform, f.state, f.flag, f.order, f.item].join("\u0000");
    if (!this.cached || this.cached.key !== key || this.cached.agenda !== f.agenda) {
      this.cached = { key, agenda: f.agenda, lists: buckets(this.model, f) };
    }
    return this.cached.lists;
  }

  // The real pitch of a compact card, once one is drawn (fonts or zoom can change it).
  measure() {
    if (this.measured) return;
    for (const spec of Object.values(this.lists)) {
      const cards = [...spec.el.children].filter((li) => !li.classList.contains("selected"));
      if (cards.length < 2) continue;
      const pitch = cards[1].offsetTop - cards[0].offsetTop;
      if (pitch > 0 && cards[1].previousElementSibling === cards[0]) {
        this.measured = true;
        if (Math.abs(pitch - this.row) >= 1) { this.row = pitch; this.schedule(); }
        return;
      }
    }
  }

  // A page the console asked for has come in (or failed): draw again, and finish a walk that
  // was waiting for it.
  paged() {
    this.layout();
    const walk = this.walking;
    this.walking = null;
    if (walk && walk.col === this.selected.col) this.move(walk.step);
  }

  showMore(name) {
    if (this.pager) this.pager(name);
  }

  // The set-aside lists are collapsed until someone goes there: open the first with cards.
  openAside() {
    const boxes = this.listsOf.aside.map((name) => this.lists[name].box);
    if (boxes.some((box) => box.open)) return;
    const { totals } = buckets(this.model, this.filters);
    const first = this.listsOf.aside.find((name) => totals[name] > 0) || "rejected";
    this.lists[first].box.open = true;
    this.layout();
  }

  // -- the board preview -----------------------------------------------------------------------

  // The board itself is drawn by board_preview.js from the server's board; here only whether the
  // console's own state says it may have changed, so it asks again.
  renderPreview() {
    const { signature } = preview(this.model, this.config.queue_length, this.agenda);
    if (signature === this.previewSig) return;
    this.previewSig = signature;
    if (this.onBoardChange) this.onBoardChange();
  }

  // -- selection and focus ---------------------------------------------------------------------

  idsOf(col) { return this.listsOf[col].flatMap((name) => this.held[name] || []); }

  current() { return this.model.get(this.selected.qid) || null; }

  restoreSelection(takeFocus) {
    const { qid, index } = reselect(this.idsOf(this.selected.col), this.selected.qid, this.selected.index);
    this.selected.qid = qid;
    this.selected.index = index;
    this.paintSelection(takeFocus);
  }

  paintSelection(takeFocus) {
    for (const li of document.querySelectorAll(".card.selected")) {
      if (li.dataset.qid !== this.selected.qid) {
        li.classList.remove("selected");
        li.removeAttribute("aria-current");
      }
    }
    const li = this.selected.qid && this.cards.get(this.selected.qid);
    if (!li) { this.actions.hidden = true; return; }
    li.classList.add("selected");
    li.setAttribute("aria-current", "true");
    if (!li.contains(this.actions) && !li.classList.contains("editing")) li.append(this.actions);
    this.fillActions(this.current());
    // Focus without scrolling: a card is scrolled to when it is walked to (reveal), never
    // when a redraw finds it again under a moderator's scrolling.
    // The card's open menu keeps the focus a moderator took into it.
    const inMenu = !this.actionsMore.hidden && this.actions.contains(document.activeElement);
    if (takeFocus && document.activeElement !== li && !inMenu) li.focus({ preventScroll: true });
  }

  // Scroll the list that holds `qid` so its card is in view, and draw it.
  reveal(col, qid) {
    for (const name of this.listsOf[col]) {
      const index = (this.held[name] || []).indexOf(qid);
      if (index < 0) continue;
      const spec = this.lists[name];
      const scroller = spec.el.closest(".scroll");
      const to = scrollTo(index, this.row, spec.el.offsetTop, scroller.scrollTop, scroller.clientHeight, EXPANDED);
      if (to !== null || !this.cards.has(qid)) {
        if (to !== null) scroller.scrollTop = to;
        this.layout();
      }
      return;
    }
  }

  // What the console knows around the cards (muted authors, repeats): worked out when first
  // asked for after the questions changed, a pass over every question held.
  surroundings() {
    if (!this.around || this.around.changes !== this.model.changes) {
      let known = null;
      const know = () => known || (known = surroundings(this.model.questions.values(), this.config.muted_reason));
      this.around = { changes: this.model.changes,
        get muted() { return know().muted; }, get repeated() { return know().repeated; },
        options: (of) => (this.optionsOf ? this.optionsOf(of) : 0) };
    }
    return this.around;
  }

  fillActions(q) {
    if (!q || !this.buttons) { this.actions.hidden = true; return; }
    if (this.menuFor !== q.id) this.menuFor = null;
    const open = this.menuFor !== null;
    const can = offered(this.table, q, { queue: this.model.queue, groupTarget: this.groupTarget });
    const { main, more } = cardActions(this.table, this.groups, q, can, this.surroundings(), open);
    const show = (group) => {
      const button = this.buttons.get(group.names.join(" "));
      const spec = this.table[group.name] || OWN[group.name];
      const label = button.querySelector(".label");
      if (label.textContent !== spec.label) label.textContent = spec.label;
      return button;
    };
    this.menuButton.hidden = more.length === 0;
    this.menuButton.setAttribute("aria-expanded", String(open && more.length > 0));
    this.menuButton.textContent = open ? "Fewer" : "More…";
    this.actionsMain.replaceChildren(...main.map(show), this.menuButton);
    this.actionsMore.replaceChildren(...more.map(show));
    this.actionsMore.hidden = !open || more.length === 0;
    this.actions.hidden = false;
  }

  select(col, qid, focus = true) {
    this.selected = { col, qid, index: Math.max(0, this.idsOf(col).indexOf(qid)) };
    if (focus) this.reveal(col, qid);
    this.paintSelection(focus);
  }

  move(step) {
    const col = this.selected.col;
    const ids = this.idsOf(col);
    if (!ids.length) return;
    let i = ids.indexOf(this.selected.qid) + step;
    const last = this.listsOf[col].slice(-1)[0];
    if (i >= ids.length && this.pager && this.pager(last)) {
      // Past the last card held: the move finishes when the next page is in (paged()).
      this.walking = { col, step: 1 };
      return;
    }
    i = Math.max(0, Math.min(ids.length - 1, i));
    this.select(col, ids[i]);
  }

  moveColumn(step) {
    const i = this.columns.indexOf(this.selected.col);
    this.goColumn(this.columns[Math.max(0, Math.min(this.columns.length - 1, i + step))]);
  }

  goColumn(col) {
    if (col === "aside") this.openAside();
    const ids = this.idsOf(col);
    if (!ids.length) {
      this.selected = { col, qid: null, index: 0 };
      this.paintSelection(false);
      document.querySelector(`#col-${col} .scroll`).focus();
      this.say(`${$("h-" + col).firstChild.textContent.trim()}: empty`);
      return;
    }
    this.select(col, ids[0]);
  }

  goEnd(last) {
    const ids = this.idsOf(this.selected.col);
    if (ids.length) this.select(this.selected.col, last ? ids[ids.length - 1] : ids[0]);
  }

  markTarget(q) {
    const before = this.groupTarget;
    this.groupTarget = this.groupTarget === q.id ? null : q.id;
    for (const id of [before, this.groupTarget]) { if (id && this.cards.has(id)) this.model.touched.add(id); }
    const info = $("target-info");
    info.hidden = this.groupTarget === null;
    info.textContent = this.groupTarget ? `Group target: “${q.text.slice(0, 50)}” (press g on a duplicate)` : "";
    this.say(this.groupTarget ? "Marked as the group target. Select a duplicate and press g." : "Group target cleared.");
    this.schedule();
  }

  // -- messages --------------------------------------------------------------------------------

  // Polite, for screen readers; a new message replaces one not yet read.
  say(text) {
    const region = $("announce");
    region.textContent = "";
    clearTimeout(this.sayTimer);
    this.sayTimer = setTimeout(() => { region.textContent = text; }, 50);
  }

  warn(text, qid) {
    const region = $("alert");
    region.textContent = text;
    region.classList.add("shown");
    clearTimeout(this.alertTimer);
    this.alertTimer = setTimeout(() => { region.classList.remove("shown"); region.textContent = ""; }, 10000);
    const li = qid && this.cards.get(qid);
    if (li) {
      const msg = li.querySelector(".card-msg");
      msg.textContent = text;
      msg.hidden = false;
      clearTimeout(li._msgTimer);
      li._msgTimer = setTimeout(() => { msg.hidden = true; }, 10000);
    }
  }

  settled(qid) {
    const li = qid && this.cards.get(qid);
    if (li) li.querySelector(".card-msg").hidden = true;
  }

  setConn(state, text) {
    const el = $("conn");
    el.dataset.state = state;
    el.textContent = text;
  }

  setOnline(names) {
    $("online").textContent = names.length ? names.join(", ") : "nobody";
  }
}

// -- the sources' health ------------------------------------------------------------------------

export class HealthPanel {
  constructor() { this.report = { now: null, sources: [], offset: 0 }; }

  ago(iso) {
    if (!iso) return "never";
    const seconds = (Date.now() + this.report.offset - new Date(iso).getTime()) / 1000;
    if (!(seconds >= 0)) return "just now";
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }

  show(report) {
    this.report = { ...report, offset: new Date(report.now).getTime() - Date.now() };
    const sources = this.report.sources;
    const followers = this.report.followers || [];
    if (!sources.length && !followers.length) return;
    const fact = (list, term, text, cls) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = text;
      if (cls) dd.className = cls;
      list.append(dt, dd);
      return dd;
    };
    const heading = (s, kind) => {
      const block = document.createElement("section");
      block.className = `${kind} verdict-${s.verdict}`;
      block.setAttribute("aria-label", s.label);
      const title = document.createElement("h3");
      const name = document.createElement("span");
      name.textContent = s.label;
      const verdict = document.createElement("span");
      verdict.className = "verdict";
      verdict.textContent = s.verdict;
      title.append(name, " ", verdict);
      const summary = document.createElement("p");
      summary.className = "summary";
      summary.textContent = s.summary;
      block.append(title, summary);
      return block;
    };
    const blocks = sources.map((s) => {
      const block = heading(s, "source");
      const facts = document.createElement("dl");
      fact(facts, "Last poll", this.ago(s.last_poll), "ago").dataset.at = s.last_poll;
      fact(facts, "Items", `${s.last_items} last poll, ${s.items_total} in all`);
      fact(facts, "Rate limit", s.paused_until && s.verdict === "paused"
        ? `${s.rate}, until ${when(s.paused_until)}` : s.rate);
      fact(facts, "Dead letters", String(s.dead_letters), s.dead_letters ? "dead" : "");
      if (s.last_error && !s.summary.includes(s.last_error)) fact(facts, "Last error", s.last_error);
      if (s.detail) fact(facts, "Detail", s.detail);
      block.append(facts);
      return block;
    });
    // The log's followers (triage worker, ledger writer): a dead one alarms as a source does.
    for (const f of followers) {
      const block = heading(f, "source follower");
      const facts = document.createElement("dl");
      fact(facts, "Entries", `${f.entries} since ${f.started_at ? when(f.started_at) : "it started"}`);
      if (typeof f.lag === "number" && f.verdict !== "off") fact(facts, "Behind", `${f.lag} entries`);
      if (f.last_error && !f.summary.includes(f.last_error)) fact(facts, "Last error", f.last_error);
      block.append(facts);
      blocks.push(block);
    }
    $("health").replaceChildren(...blocks);
    const failing = [...sources, ...followers].filter((s) => s.verdict === "failing");
    const alarm = $("health-alarm");
    alarm.hidden = failing.length === 0;
    alarm.textContent = failing.length === 1 ? `⚠ ${failing[0].label} is failing`
      : `⚠ ${failing.length} failing: ${failing.map((s) => s.label).join(", ")}`;
  }

  tick() {
    for (const dd of document.querySelectorAll("#health dd.ago")) dd.textContent = this.ago(dd.dataset.at);
  }
}
