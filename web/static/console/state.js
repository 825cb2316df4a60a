// The console's state, with no DOM and no socket: a snapshot and the log entries after it make
// the questions, the queue and the screen; from those come the columns, their counts, and the
// actions a question allows. What an action may do is never written here: it comes from the
// action table the server sends (config.actions, aggregator/core/actions.py).

// -- the model: a paged snapshot, pages, then log entries applied by id -------------------------
//
// At volume the console holds only part of the event: the first page of each list, then the pages
// it asks for as the moderator scrolls or walks (aggregator/core/columns.py). What it holds of a list
// is everything up to an edge in the list's order (the cursor of the last card a page brought);
// every log entry keeps the counts and the held questions true, and a question that moves into a
// list shows when it falls before that edge (or anywhere, once the whole list is held).
//
// A search or a filter is walked on the server (`page` with `filters`, aggregator/core/filters.py): a
// list's filtered walk starts at the edge of what the console holds of it and goes on from the
// cursor each reply names (the last question the server looked at), so what the console holds for
// that filter is every match up to that search edge; log entries keep it true the same way.

// Stream ids are "milliseconds-sequence"; later ids compare greater part by part.
export function isAfter(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am > bm || (am === bm && as > bs);
}

// The lists of the page; "queue" and "screen" are read from the queue and the screen, the
// others from each question's state.
export const LISTS = ["incoming", "queue", "screen", "answered", "held", "rejected", "grouped"];
const LIST_OF_STATE = {
  new: "incoming", approved: "queue", on_screen: "screen", answered: "answered", held: "held",
  rejected: "rejected", grouped: "grouped",
};
export function listOf(state) { return LIST_OF_STATE[state]; }
// Lists the server pages by cursor, in its index's order: Incoming oldest first (by arrival) or
// newest first (asked for only when a moderator orders it so), the set-aside lists most recently
// changed first.
export const PAGED = ["incoming", "incoming_newest", "answered", "held", "rejected", "grouped"];
const DESCENDING = ["incoming_newest", "answered", "held", "rejected", "grouped"];

// The paged list that feeds Incoming in an order.
export function incomingList(order) { return order === "newest" ? "incoming_newest" : "incoming"; }

// A question's place in a paged list: [score, id], as the server's index scores it.
export function keyOf(model, list, q) {
  if (list === "incoming" || list === "incoming_newest") {
    const seq = model.seq.get(q.id);
    return [seq === undefined ? Infinity : seq, q.id];
  }
  const ms = Date.parse(q.updated_at || q.received_at || "");
  return [Number.isNaN(ms) ? 0 : ms, q.id];
}

// Whether `a` comes before `b` in a list's order (or is the same place).
export function notAfter(list, a, b) {
  const desc = DESCENDING.includes(list);
  if (a[0] !== b[0]) return desc ? a[0] > b[0] : a[0] < b[0];
  if (a[1] === b[1]) return true;
  return desc ? a[1] > b[1] : a[1] < b[1];
}

// The queue after one entry's edit (aggregator/core/queue_edit.py): the dropped ids removed, then each
// put id inserted at its index; null when the result is not the edit's length (this queue is not
// the one the edit was made from).
export function applyQueueEdit(queue, edit) {
  const dropped = new Set(edit.drop);
  const out = dropped.size ? queue.filter((qid) => !dropped.has(qid)) : queue.slice();
  for (const [index, qid] of edit.put) out.splice(index, 0, qid);
  return out.length === edit.length ? out : null;
}

export class Model {
  constructor() {
    this.questions = new Map();  // qid -> question dict (the newest version seen)
    this.queue = [];             // approved qids in board order (always whole)
    this.screen = null;          // qid on screen, or null
    this.lastId = null;          // the last log id applied
    this.touched = new Set();    // qids whose cards need refilling (the view clears it)
    this.counts = {};            // list -> how many questions it has on the server
    this.seq = new Map();        // qid -> arrival number (Incoming's order)
    this.edge = {};              // paged list -> [score, id] of the last card held, or null
    this.more = {};              // paged list -> whether the server has more past the edge
    this.queueMore = false;      // whether some queued questions are not held yet
    this.generation = 0;         // bumped by each snapshot: pages asked before it are dropped
    this.lastSeq = 0;            // the highest arrival number seen
    this.changes = 0;            // bumped by anything that can change the lists (a view's cache key)
    // Paged list -> the filtered walk under way: { key (its filters), edge (the cursor the server
    // scanned to; for the queue, the id of the last queued question scanned), more, scanned }.
    this.searches = {};
    this.unplacedIds = new Set();  // qids that may be in Incoming with no arrival number known
    this.outOfStep = false;      // an entry's queue edit did not fit: a new snapshot is needed
  }

  get(qid) { return qid ? this.questions.get(qid) : undefined; }

  onScreen() { return this.get(this.screen) || null; }

  applySnapshot(snap) {
    this.changes += 1;
    this.questions = new Map();
    this.seq = new Map();
    this.generation += 1;
    for (const q of snap.questions) this.questions.set(q.id, q);
    this.queue = snap.queue;
    this.outOfStep = false;
    this.screen = snap.screen || null;
    this.lastId = snap.last_id;
    this.counts = { ...snap.counts };
    this.edge = {};
    this.more = {};
    this.searches = {};
    this.unplacedIds = new Set();
    if (snap.lists) {
      for (const list of PAGED) {
        if (snap.lists[list]) this.takePage(list, snap.lists[list]);
        else { this.edge[list] = null; this.more[list] = (this.counts.incoming || 0) > 0; }
      }
    } else {
      // A snapshot of the whole event (no lists): every list is held whole, in arrival order.
      this.counts = { queue: this.queue.length, screen: this.screen ? 1 : 0 };
      snap.questions.forEach((q, i) => {
        this.seq.set(q.id, i + 1);
        const list = listOf(q.state);
        if (list && list !== "queue" && list !== "screen") this.counts[list] = (this.counts[list] || 0) + 1;
      });
      for (const list of PAGED) { this.edge[list] = null; this.more[list] = false; }
    }
    this.lastSeq = Math.max(0, ...this.seq.values());
    this.touched.clear();
  }

  // A page of `list` (ids, scores, more), its questions already upserted.
  takePage(list, page) {
    this.changes += 1;
    if (list === "queue") return;
    if (!page) { this.edge[list] = null; this.more[list] = false; return; }
    page.ids.forEach((id, i) => {
      if (list === "incoming" || list === "incoming_newest") this.seq.set(id, page.scores[i]);
    });
    const n = page.ids.length;
    if (n) this.edge[list] = [page.scores[n - 1], page.ids[n - 1]];
    else if (!(list in this.edge)) this.edge[list] = null;
    this.more[list] = !!page.more && n > 0;
  }

  // The answer to a `page` request; false when a snapshot came in between (it is dropped).
  // A filtered page (it names its `edge`) moves the search of `key`, if that is still the one.
  applyPage(reply, generation = this.generation, key = "") {
    if (generation !== this.generation) return false;
    for (const q of reply.questions) this.upsert(q);
    if (reply.edge === undefined) { this.takePage(reply.list, reply.page); return true; }
    this.changes += 1;
    const list = reply.list;
    if (list === "incoming" || list === "incoming_newest") {
      reply.page.ids.forEach((id, i) => this.seq.set(id, reply.page.scores[i]));
    }
    const search = this.searches[list] || this.search(list, key);
    if (search.key !== key) return true;  // the filters changed since it was asked for
    if (list === "queue") {
      const position = Number(reply.edge) || 0;
      if (position > 0) search.edge = this.queue[Math.min(position, this.queue.length) - 1] || search.edge;
    } else if (reply.edge) search.edge = reply.edge;
    search.more = !!reply.page.more;
    search.scanned = reply.scanned;
    return true;
  }

  // The filtered walk of `list` for the filters `key`: the one under way, or a new one from the
  // edge of what the console holds of the list.
  search(list, key) {
    const known = this.searches[list];
    if (known && known.key === key) {
      // Pages loaded without the filter since may have gone further: go on from there.
      const edge = this.edge[list];
      if (list !== "queue" && known.more && edge && (!known.edge || !notAfter(list, edge, known.edge))) {
        Object.assign(known, { edge, more: !!this.more[list], scanned: null });
      }
      return known;
    }
    let edge = this.edge[list] || null;
    let more = !!this.more[list];
    let scanned = null;
    if (list === "queue") {
      const held = this.heldQueue();
      edge = held.length ? held[held.length - 1] : null;
      more = held.length < this.queue.length;
      scanned = held.length;
    }
    this.searches[list] = { key, edge, more, scanned };
    return this.searches[list];
  }

  // The cursor a filtered page of `list` continues from.
  searchAfter(list, key) {
    const { edge } = this.search(list, key);
    if (list !== "queue") return edge;
    return edge === null ? 0 : this.queue.indexOf(edge) + 1;
  }

  // Whether the console holds the place of `q` in `list` (it is before the edge, or the whole
  // list is held); with a filter's `key`, the edge of that filter's walk.
  inReach(list, q, key = "") {
    if (list === "screen") return true;
    if (list === "queue") {
      if (!key) return true;
      const { edge, more } = this.search(list, key);
      if (!more) return true;
      const at = this.queue.indexOf(q.id);
      return edge !== null && at >= 0 && at <= this.queue.indexOf(edge);
    }
    const { edge, more } = key ? this.search(list, key) : { edge: this.edge[list], more: this.more[list] };
    if (!more) return true;
    return !!edge && notAfter(list, keyOf(this, list, q), edge);
  }

  // Questions in Incoming the console holds without their arrival number (a log entry about a
  // question it never held names none), so it cannot tell where they go: the console asks the
  // server (`places`) while a filter is on, when such a question could be a match.
  unplaced() {
    for (const qid of this.unplacedIds) {
      const q = this.questions.get(qid);
      if (!q || q.state !== "new" || this.seq.has(qid)) this.unplacedIds.delete(qid);
    }
    return [...this.unplacedIds];
  }

  // Arrival numbers the server sent (`places`): qid -> number, for the `asked` qids (one it
  // names none for, deleted meanwhile, is not asked for again).
  place(places, asked = Object.keys(places)) {
    for (const qid of asked) this.unplacedIds.delete(qid);
    for (const [qid, n] of Object.entries(places)) {
      if (typeof n !== "number" || this.seq.has(qid)) continue;
      this.seq.set(qid, n);
      this.touched.add(qid);
      this.changes += 1;
    }
  }

  // How far the console has looked through `list` for the filters `key`, as the server counts
  // (null: no filtered page yet).
  scanned(list, key) { return key ? this.search(list, key).scanned : null; }

  upsert(q) {
    const old = this.questions.get(q.id);
    if (old && q.version <= old.version) return false;
    this.changes += 1;
    this.questions.set(q.id, q);
    this.touched.add(q.id);
    return true;
  }

  // Where a log entry stands against what the model holds: "next" (it follows the last entry
  // applied: each relayed entry names the one before it in the log, `prev`), "seen" (not after
  // the last one applied), or "gap" (entries between are missing: catch up before applying it).
  follows(entry) {
    if (this.lastId === null) return "next";
    if (!isAfter(entry.id, this.lastId)) return "seen";
    return entry.prev === undefined || entry.prev === this.lastId ? "next" : "gap";
  }

  // Apply one entry unless it is not after the last one applied; true when it was applied.
  // The counts move with the states the entry names (`was`), whether or not the console holds
  // the questions.
  applyEntry(entry) {
    if (this.lastId !== null && !isAfter(entry.id, this.lastId)) return false;
    this.lastId = entry.id;
    this.changes += 1;
    for (const [id, n] of Object.entries(entry.seq || {})) {
      this.seq.set(id, n);
      this.lastSeq = Math.max(this.lastSeq, n);
    }
    if (entry.type === "received" && entry.arrival !== undefined) {
      const n = Number(entry.arrival);
      this.seq.set(entry.qid, n);
      this.lastSeq = Math.max(this.lastSeq, n);
    } else if (entry.type === "received" && !entry.seq) {
      // From a server that sends no arrival numbers: the next one.
      for (const q of entry.qs || []) if (!this.seq.has(q.id)) this.seq.set(q.id, ++this.lastSeq);
    }
    const was = entry.was || {};
    for (const q of entry.qs || []) {
      const from = entry.type === "received" ? null : was[q.id];
      if (from !== undefined && from !== q.state) {
        const before = from === null ? undefined : listOf(from);
        if (before) this.counts[before] = Math.max(0, (this.counts[before] || 0) - 1);
        const after = listOf(q.state);
        if (after) this.counts[after] = (this.counts[after] || 0) + 1;
      }
      // A grouped card names its parent, whose count changed with it.
      if (this.upsert(q) && q.parent) this.touched.add(q.parent);
      if (q.state === "new" && !this.seq.has(q.id)) this.unplacedIds.add(q.id);
    }
    if (Array.isArray(entry.queue)) this.queue = entry.queue;
    if (entry.queue_edit) {
      const queue = applyQueueEdit(this.queue, entry.queue_edit);
      if (queue) this.queue = queue; else this.outOfStep = true;
    }
    if (typeof entry.screen === "string") this.screen = entry.screen || null;
    this.counts.queue = this.queue.length;
    this.counts.screen = this.screen ? 1 : 0;
    if (entry.type === "edit" || entry.type === "group") this.touched.add(entry.qid);
    return true;
  }

  // The queue's ids the console can draw: its front, up to the first it holds no question for.
  heldQueue() {
    const out = [];
    for (const qid of this.queue) {
      if (!this.questions.has(qid)) break;
      out.push(qid);
    }
    return out;
  }
}

// -- columns: which list shows which question, filtered and ordered ----------------------------

export const NO_FILTERS = Object.freeze({ text: "", platform: "", state: "", flag: "", order: "oldest", item: "" });

// The agenda item a question counts as on: its tag, if the tag still names an item (an item
// removed while questions were tagged to it leaves them with no item).
export function itemOf(q, agenda) {
  return q && q.item && agenda && agenda.items.some((i) => i.id === q.item) ? q.item : "";
}

export function haystack(q) {
  // Cached on the question: versions are replaced, never changed, so the cache stays true.
  if (q._hay === undefined) {
    Object.defineProperty(q, "_hay", {
      value: [q.text, q.original, q.author_name, q.author_handle, q.id].join("\n").toLowerCase(),
      enumerable: false,
    });
  }
  return q._hay;
}

// Whether `q` passes the toolbar's filters: the console's one definition, the server's being
// aggregator/core/filters.py (tests/js/fixtures/filters.json holds the verdicts both must give).
export function passes(q, filters) {
  if (filters.platform && q.platform !== filters.platform) return false;
  if (filters.state === "starred") { if (!q.starred) return false; }
  else if (filters.state && q.state !== filters.state) return false;
  if (filters.flag === "-") { if (q.flags.length) return false; }
  else if (filters.flag && !q.flags.includes(filters.flag)) return false;
  if (filters.questions && !q.flags.includes("question")) return false;
  if (filters.item) {
    const item = itemOf(q, filters.agenda);
    if (filters.item === "-" ? item !== "" : item !== filters.item) return false;
  }
  if (filters.text && !haystack(q).includes(filters.text)) return false;
  return true;
}

// The filters the server applies to a filtered page of `list` (aggregator/core/filters.py), or null
// when none is on. Incoming's "questions only" order is a filter of Incoming alone.
export function serverFilters(filters, list) {
  const out = {};
  for (const name of ["text", "platform", "state", "flag", "item"]) if (filters[name]) out[name] = filters[name];
  if ((list === "incoming" || list === "incoming_newest") && filters.order === "questions") out.questions = true;
  return Object.keys(out).length ? out : null;
}

// A filtered walk's key: the same filters make the same key.
export function filterKey(filters) { return filters ? JSON.stringify(filters) : ""; }

// For each list: the qids it shows (of those held, filtered, ordered), how many it holds in all
// (on the server), whether the server has more past those held (`more`), and while a filter is
// on how far the server has searched it (`scanned`, null before its first filtered page).
export function buckets(model, filters = NO_FILTERS) {
  const out = {};
  const totals = {};
  const more = {};
  const scanned = {};
  for (const name of LISTS) { out[name] = []; totals[name] = model.counts[name] || 0; more[name] = false; scanned[name] = null; }
  // Which paged list each shown list reads: Incoming's depends on its order.
  const source = { incoming: incomingList(filters.order), queue: "queue", answered: "answered",
    held: "held", rejected: "rejected", grouped: "grouped" };
  const keys = {};
  const applied = {};
  for (const [name, paged] of Object.entries(source)) {
    keys[name] = filterKey(serverFilters(filters, paged));
    applied[name] = name === "incoming" && filters.order === "questions" ? { ...filters, questions: true } : filters;
  }
  for (const q of model.questions.values()) {
    const list = LIST_OF_STATE[q.state];
    if (list === undefined || list === "queue" || list === "screen") continue;
    if (!model.inReach(source[list], q, keys[list])) continue;
    if (passes(q, applied[list])) out[list].push(q);
  }
  for (const [name, paged] of Object.entries(source)) {
    if (name === "queue") continue;
    out[name].sort((a, b) => {
      const ka = keyOf(model, paged, a), kb = keyOf(model, paged, b);
      return ka[0] === kb[0] && ka[1] === kb[1] ? 0 : notAfter(paged, ka, kb) ? -1 : 1;
    });
    out[name] = out[name].map((q) => q.id);
    more[name] = keys[name] ? model.search(paged, keys[name]).more : !!model.more[paged];
    scanned[name] = model.scanned(paged, keys[name]);
  }
  const held = model.heldQueue();
  if (keys.queue) {
    const search = model.search("queue", keys.queue);
    const end = !search.more ? model.queue.length : search.edge === null ? 0 : model.queue.indexOf(search.edge) + 1;
    for (let i = 0; i < end; i += 1) {
      const q = model.questions.get(model.queue[i]);
      if (q && passes(q, filters)) out.queue.push(q.id);
    }
    more.queue = search.more;
    scanned.queue = model.scanned("queue", keys.queue);
  } else {
    for (const qid of held) if (passes(model.questions.get(qid), filters)) out.queue.push(qid);
    more.queue = held.length < model.queue.length;
  }
  totals.queue = model.queue.length;
  const current = model.onScreen();
  totals.screen = model.screen ? 1 : 0;
  if (current && passes(current, filters)) out.screen.push(current.id);
  return { out, totals, more, scanned };
}

export function countText(shown, total) {
  return shown === total ? `(${shown})` : `(${shown} of ${total})`;
}

const number = new Intl.NumberFormat("en");

// A filtered list's count: what it shows of the whole list, and while the server is still
// searching it, how far it has got.
export function searchCountText(shown, total, more, scanned) {
  if (!more) return countText(shown, total);
  const where = scanned === null || scanned === undefined ? "searching…"
    : `searched ${number.format(Math.min(scanned, total))} of ${number.format(total)}`;
  return `(${shown} found, ${where})`;
}

// The button under a filtered list that has more to search.
export function searchMoreText(scanned, total) {
  const left = Math.max(0, total - (scanned || 0));
  return `Search further (${number.format(left)} not searched yet)`;
}

// The selection after the lists changed: the same card if it is still shown, else the card
// that took its place (or the first).
export function reselect(ids, qid, index) {
  if (qid && ids.includes(qid)) return { qid, index: ids.indexOf(qid) };
  if (qid) {
    const next = ids[Math.min(index, ids.length - 1)] || null;
    return { qid: next, index: Math.max(0, ids.indexOf(next)) };
  }
  return { qid: ids[0] || null, index: 0 };
}

// -- actions, from the server's table ---------------------------------------------------------

// Actions that share a key toggle (star/unstar on the same state): which one a question takes
// depends on a field, not a state.
const FIELD_TOGGLES = { star: (q) => !q.starred, unstar: (q) => !!q.starred };

export function stateWords(states, state) {
  return (states && states[state]) || String(state).replace(/_/g, " ");
}

// Whether the table lets `name` run on `q` (its state, its undo stack, a toggle's field).
export function applies(table, name, q) {
  const spec = table[name];
  if (!spec || !q || !spec.from.includes(q.state)) return false;
  if (name === "undo" && !((q.undo_depth || 0) > 0)) return false;
  const toggle = FIELD_TOGGLES[name];
  return toggle ? toggle(q) : true;
}

// An action that applies only from "on_screen" acts on whatever is on screen (there is one).
export function actsOnScreen(spec) {
  return !!spec && spec.from.length === 1 && spec.from[0] === "on_screen";
}

// Console key -> the names of the actions it drives, in the table's order.
export function keyMap(table) {
  const keys = new Map();
  for (const [name, spec] of Object.entries(table)) {
    if (!spec.key) continue;
    if (!keys.has(spec.key)) keys.set(spec.key, []);
    keys.get(spec.key).push(name);
  }
  return keys;
}

// Of the actions one key drives, the one that applies to `q`; otherwise the first (so a
// refusal can name it).
export function choose(table, names, q) {
  return names.find((name) => applies(table, name, q)) || names[0];
}

// What the console offers on a question: every action of the table, plus the console's own
// moves (up, down: a reorder by one; target: mark the question to group duplicates under).
export function offered(table, q, view) {
  const can = {};
  for (const name of Object.keys(table)) can[name] = applies(table, name, q);
  if (can.group) can.group = view.groupTarget != null && view.groupTarget !== q.id;
  const pos = view.queue.indexOf(q.id);
  can.up = !!can.reorder && pos > 0;
  can.down = !!can.reorder && pos >= 0 && pos < view.queue.length - 1;
  can.target = "group" in table;
  return can;
}

// Why an action does not apply, in the moderator's words.
export function refusal(table, states, name, q) {
  const spec = table[name];
  if (!spec) return `The console does not know the action “${name}”.`;
  if (name === "undo" && spec.from.includes(q.state)) return "There is nothing to undo on this question.";
  return `“${spec.label}” does not apply to a question that is ${stateWords(states, q.state)}.`;
}

// The queue index a reorder sends for moving `qid` by `step`; null at an end or off the queue.
export function stepIndex(queue, qid, step) {
  const pos = queue.indexOf(qid);
  const index = pos + step;
  if (pos < 0 || index < 0 || index >= queue.length) return null;
  return index;
}

// The queue index for dropping `qid` on the card `over` (null: past the end); `lowerHalf`
// says whether the drop was below the middle of that card. Null when nothing moves.
export function dropIndex(queue, qid, over, lowerHalf) {
  const from = queue.indexOf(qid);
  let to = over ? queue.indexOf(over) : queue.length - 1;
  if (from < 0 || to < 0 || to === from) return null;
  if (over && lowerHalf && to < from) to += 1;
  if (over && !lowerHalf && to > from) to -= 1;
  return to === from ? null : to;
}

// -- the board's limits -----------------------------------------------------------------------

export const BOARD_MAX_CHARS = 280;

// Characters as the server counts them (code points), against the board's legible length.
export function tooLongForBoard(q, config) {
  const limit = Number(config.board_max_chars) > 0 ? Number(config.board_max_chars) : BOARD_MAX_CHARS;
  const length = [...q.text].length;
  return length > limit ? { length, limit } : null;
}

// The edit dialog's limit (config.actions.edit.limits.text: as long as a question from the form),
// counted as the field's maxlength counts (UTF-16 units: never fewer than the server's count).
export function editCountText(used, max) {
  const n = (x) => number.format(x);
  return `At most ${n(max)} characters, as for a question from the form: ${n(used)} used, ${n(Math.max(0, max - used))} left.`;
}

// -- the board preview: the question on screen and the next few of the queue -------------------

// With the meeting on an agenda item, the board lists only that item's questions.
export function preview(model, queueLength, agenda = null) {
  const current = model.onScreen();
  const item = agenda && agenda.current && agenda.items.some((i) => i.id === agenda.current) ? agenda.current : "";
  const queued = model.queue.map((id) => model.questions.get(id)).filter(Boolean);
  const next = (item ? queued.filter((q) => q.item === item) : queued).slice(0, queueLength);
  const versions = [current, ...next].map((q) => (q ? `${q.id}:${q.version}` : "-")).join("|");
  const signature = item ? `${item}|${versions}` : versions;
  return { current, next, signature };
}
