// The console's side of the chair's view: notes to the chair (and whether the chair has seen
// them), and the time the question on screen has been there. Notes arrive as log entries
// ("note", "note_seen") like every other change; a console that has just connected asks for
// the notes so far. The functions at the top are pure (tests/js/chair_panel.test.mjs).

// A note's newest state wins: once seen, it stays seen, whichever copy arrives last.
export function mergeNote(notes, note) {
  if (!note || typeof note.id !== "string") return false;
  const old = notes.get(note.id);
  if (old && old.seen_at && !note.seen_at) return false;
  if (old && old.seen_at === note.seen_at && old.text === note.text) return false;
  notes.set(note.id, note);
  return true;
}

// The note a log entry carries, or null when the entry is not about a note.
export function noteOf(entry) {
  if (!entry || (entry.type !== "note" && entry.type !== "note_seen")) return null;
  try { return JSON.parse(entry.note); } catch { return null; }
}

// Newest first: the moderators look for the one they just sent.
export function noteOrder(notes) {
  return [...notes.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Seconds on screen now, or null when the question has no start time.
export function secondsOnScreen(q, nowMs) {
  const start = q && q.on_screen_since ? Date.parse(q.on_screen_since) : NaN;
  return isNaN(start) ? null : Math.max(0, Math.floor((nowMs - start) / 1000));
}

export function overLimit(seconds, limit) {
  return Number(limit) > 0 && seconds !== null && seconds >= Number(limit);
}

// -- the panel -------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

export class ChairPanel {
  constructor(config, model, socket) {
    this.chair = config.chair || { soft_limit_seconds: 0, note_max: 200, events: { note: "note", notes: "notes" } };
    this.model = model;
    this.socket = socket;
    this.notes = new Map();
    this.form = $("note-form");
    this.text = $("note-text");
    this.count = $("note-count");
    this.message = $("note-msg");
    this.list = $("notes-sent");
    this.timer = $("screen-timer");
    this.text.addEventListener("input", () => this.counted());
    this.form.addEventListener("submit", (ev) => { ev.preventDefault(); this.send(); });
    this.counted();
  }

  counted() {
    const length = [...this.text.value.trim()].length;
    const max = this.chair.note_max;
    this.count.textContent = length > max ? `${length - max} characters too long` : `${length} / ${max}`;
    this.count.classList.toggle("over", length > max);
  }

  send() {
    const text = this.text.value;
    this.message.textContent = "";
    this.socket.timeout(8000).emit(this.chair.events.note, { text }, (err, reply) => {
      if (err) { this.message.textContent = "No answer from the server: the note may not have been sent."; return; }
      if (!reply.ok) { this.message.textContent = reply.error; return; }
      this.text.value = "";
      this.counted();
      if (mergeNote(this.notes, reply.note)) this.render();
    });
  }

  load() {
    this.socket.timeout(8000).emit(this.chair.events.notes, {}, (err, reply) => {
      if (err || !reply.ok) return;
      let changed = false;
      for (const note of reply.notes) changed = mergeNote(this.notes, note) || changed;
      if (changed) this.render();
    });
  }

  // A log entry; true when it was about a note.
  apply(entry) {
    const note = noteOf(entry);
    if (note === null) return false;
    if (mergeNote(this.notes, note)) this.render();
    return true;
  }

  render() {
    const items = noteOrder(this.notes).map((note) => {
      const li = document.createElement("li");
      li.className = note.seen_at ? "chair-note seen" : "chair-note";
      li.dataset.note = note.id;
      const text = document.createElement("p");
      text.className = "chair-note-text";
      text.dir = "auto";
      text.textContent = note.text;
      const meta = document.createElement("p");
      meta.className = "chair-note-meta";
      const at = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      meta.textContent = note.seen_at
        ? `${note.by} ${at(note.at)} · seen by ${note.seen_by} at ${at(note.seen_at)}`
        : `${note.by} ${at(note.at)} · not seen yet`;
      li.append(text, meta);
      return li;
    });
    this.list.replaceChildren(...items);
  }

  tick(nowMs = Date.now()) {
    const seconds = secondsOnScreen(this.model.onScreen(), nowMs);
    this.timer.textContent = seconds === null ? "" : `on screen ${clockText(seconds)}`;
    this.timer.classList.toggle("over-limit", overLimit(seconds, this.chair.soft_limit_seconds));
  }
}

// -- the agenda --------------------------------------------------------------------------------

// The item whose keywords the question mentions most (whole words, any case), as the server's
// aggregator/core/agenda.py suggest(); "" when none.
export function suggestItem(text, items) {
  const words = new Set((String(text).toLowerCase().match(/[\p{L}\p{N}_]+/gu) || []));
  let best = "";
  let hits = 0;
  for (const item of items) {
    const found = (item.keywords || []).filter((k) => words.has(k.toLowerCase())).length;
    if (found > hits) { best = item.id; hits = found; }
  }
  return best;
}

export function titleOf(agenda, id) {
  const item = agenda.items.find((i) => i.id === id);
  return item ? item.title : "";
}

// The agenda as a log entry carries it, or null.
export function agendaOf(entry) {
  if (!entry || entry.type !== "agenda") return null;
  try { return JSON.parse(entry.agenda); } catch { return null; }
}

export class AgendaPanel {
  constructor(config, socket, changed) {
    this.events = (config.chair || {}).events || { agenda: "agenda", agenda_change: "agenda_change" };
    this.socket = socket;
    this.changed = changed;  // called with the new agenda
    this.agenda = { items: [], current: "" };
    this.lastId = null;      // the log id of the agenda shown, so an older answer never wins
    this.list = $("agenda-items");
    this.message = $("agenda-msg");
    this.filter = $("f-item");
    $("agenda-add").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("agenda-title");
      this.change({ op: "add", title: input.value }, () => { input.value = ""; });
    });
    $("agenda-all").addEventListener("click", () => this.change({ op: "move", item: "" }));
    this.list.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-op]");
      if (!b) return;
      const item = b.closest("li").dataset.item;
      if (b.dataset.op === "rename") this.startRename(b.closest("li"));
      else this.change({ op: b.dataset.op, item });
    });
  }

  change(payload, done) {
    this.message.textContent = "";
    this.socket.timeout(8000).emit(this.events.agenda_change, payload, (err, reply) => {
      if (err) { this.message.textContent = "No answer from the server: check the agenda before trying again."; return; }
      if (!reply.ok) { this.message.textContent = reply.error; return; }
      if (done) done();
    });
  }

  load() {
    this.socket.timeout(8000).emit(this.events.agenda, {}, (err, reply) => {
      if (!err && reply.ok && this.lastId === null) this.show(reply.agenda);
    });
  }

  apply(entry) {
    const agenda = agendaOf(entry);
    if (agenda === null) return false;
    this.lastId = entry.id;
    this.show(agenda);
    return true;
  }

  show(agenda) {
    this.agenda = agenda;
    const rows = agenda.items.map((item) => {
      const li = document.createElement("li");
      li.dataset.item = item.id;
      const now = item.id === agenda.current;
      li.className = now ? "agenda-row now" : "agenda-row";
      const title = document.createElement("span");
      title.className = "agenda-title";
      title.dir = "auto";
      title.textContent = item.title;
      li.append(title);
      if (now) {
        const mark = document.createElement("span");
        mark.className = "agenda-now";
        mark.textContent = "now";
        li.append(mark);
      }
      for (const [op, label] of [["move", "Questions on this"], ["rename", "Rename"], ["remove", "Remove"]]) {
        if (op === "move" && now) continue;
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.op = op;
        b.textContent = label;
        b.setAttribute("aria-label", `${label}: ${item.title}`);
        li.append(b);
      }
      return li;
    });
    this.list.replaceChildren(...rows);
    $("agenda-all").hidden = !agenda.current;
    const chosen = this.filter.value;
    const options = [["", "all"], ["-", "no item"], ...agenda.items.map((i) => [i.id, i.title])].map(([value, label]) => {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = label;
      return o;
    });
    this.filter.replaceChildren(...options);
    this.filter.value = options.some((o) => o.value === chosen) ? chosen : "";
    if (this.filter.value !== chosen) this.filter.dispatchEvent(new Event("change"));
    this.changed(agenda);
  }

  startRename(li) {
    const title = li.querySelector(".agenda-title");
    const input = document.createElement("input");
    input.value = title.textContent;
    input.setAttribute("aria-label", "New title (Enter saves, Escape cancels)");
    title.replaceWith(input);
    input.focus();
    input.select();
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); this.change({ op: "rename", item: li.dataset.item, title: input.value }); }
      else if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); this.show(this.agenda); }
    });
  }
}
