// The moderators' console: wires the state, the view, the keyboard and the socket together.
import { BoardPreview } from "./board_preview.js";
import { AgendaPanel, ChairPanel } from "./chair_panel.js";
import { Commands } from "./commands.js";
import { FairnessPanel } from "./fairness.js";
import { installKeys } from "./keys.js";
import { HealthPanel, View } from "./render.js";
import { connect } from "./socket.js";
import { Model, filterKey, incomingList, passes, serverFilters } from "./state.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("floor-config").textContent);
const model = new Model();
const view = new View(config, model);
const health = new HealthPanel();
let newSinceAnnounce = 0;
let chair = null;  // made once the socket exists; entries before that come again with load()
let agenda = null;

function firstMark(name) { if (view.firstRender) performance.mark(name); }

const link = connect(config, model, {
  changed(live, entry) {
    if (live && entry.type === "received") newSinceAnnounce += 1;
    if (chair && chair.apply(entry)) return;
    if (agenda && agenda.apply(entry)) return;
    placeUnplaced();
    view.schedule();
    if (chair) chair.tick();
  },
  snapshot() {
    paging.clear();
    queueAsked = -1;
    view.reset();
    view.schedule();
    if (chair) { chair.load(); chair.tick(); }
    if (agenda) { agenda.lastId = null; agenda.load(); }
  },
  status: (state, text) => view.setConn(state, text),
  login: () => location.assign("/login?next=" + encodeURIComponent(location.pathname)),
  presence(state) {
    view.setOnline(state.online || []);
    const editing = state.editing || {};
    for (const qid of [...view.locks.keys()]) if (!(qid in editing)) view.setLocks(qid, [], config.moderator);
    for (const [qid, names] of Object.entries(editing)) view.setLocks(qid, names, config.moderator);
  },
  editing({ qid, moderator }) {
    if (moderator !== config.moderator) view.setLocks(qid, [...(view.locks.get(qid) || []), moderator], config.moderator);
  },
  editingDone({ qid, moderator }) {
    view.setLocks(qid, [...(view.locks.get(qid) || [])].filter((n) => n !== moderator), config.moderator);
  },
  health: (report) => health.show(report),
  firstMark,
});
chair = new ChairPanel(config, model, link.socket);
const boardPreview = new BoardPreview(config, link.socket);
view.onBoardChange = () => boardPreview.ask();
// Asked once now (sent when the socket connects), not by a render: a render before the snapshot
// would draw an empty console and spend the page's first-render mark on it.
boardPreview.ask();
agenda = new AgendaPanel(config, link.socket, (state) => {
  view.agenda = state;
  view.filters.agenda = state;
  model.changes += 1;  // the item filter reads the agenda
  for (const qid of model.questions.keys()) model.touched.add(qid);  // badges name items by title
  view.previewSig = "";  // and so does the preview
  view.schedule();
});
new FairnessPanel(config, link.socket);
if (model.lastId !== null) chair.load();
setInterval(() => chair.tick(), 1000);
// Pages: the next part of a list when the view draws or walks near the end of what it holds.
// While a search or a filter is on, the next matches: the server walks the list from the edge of
// what was searched (aggregator/core/columns.py, Columns.search) and says how far it got. One request
// per list (and filters) at a time, and one search at a time for the whole console (the lists
// drawn first, Incoming first, go first: they would only slow each other down on the server);
// a failed one is not retried for a few seconds.
const PAGE = 100;
const paging = new Map();    // list (and filters) -> in flight (or resting after a failure)
let queueAsked = -1;         // the held queue's length when its last page was asked for
let searching = null;        // the search in flight: { tag, filters (the toolbar's, as text) }
const toolbar = () => JSON.stringify(["text", "platform", "state", "flag", "item", "order"].map((k) => view.filters[k]));
function ask(tag, generation, send, take) {
  paging.set(tag, generation);
  send((reply) => {
    if (paging.get(tag) !== generation) return;  // a snapshot came in meanwhile
    if (reply) {
      paging.delete(tag);
      take(reply);
    } else {
      setTimeout(() => { if (paging.get(tag) === generation) paging.delete(tag); }, 3000);
    }
    view.paged();
  });
}
view.pager = (name) => {
  if (name === "screen") return false;
  const list = name === "incoming" ? incomingList(view.filters.order) : name;
  const generation = model.generation;
  const filters = serverFilters(view.filters, list);
  if (filters) {
    const key = filterKey(filters);
    if (!model.search(list, key).more) return false;
    const tag = `${list}\u0000${key}`;
    if (paging.has(tag)) return true;
    // Another list's search for the same filters goes first; one for older filters does not.
    if (searching && paging.has(searching.tag) && searching.filters === toolbar()) return true;
    searching = { tag, filters: toolbar() };
    ask(tag, generation, (done) => link.page(list, model.searchAfter(list, key), PAGE, done, filters),
      (reply) => model.applyPage(reply, generation, key));
    return true;
  }
  const heldQueue = list === "queue" ? model.heldQueue().length : 0;
  const more = list === "queue" ? heldQueue < model.queue.length : !!model.more[list];
  if (!more) return false;
  if (paging.has(list)) return true;
  if (list === "queue" && heldQueue === queueAsked) return false;  // that page brought nothing new
  if (list === "queue") queueAsked = heldQueue;
  const after = list === "queue" ? heldQueue : model.edge[list] || null;
  ask(list, generation, (done) => link.page(list, after, PAGE, done), (reply) => model.applyPage(reply, generation));
  return true;
};
// A search shows a question a log entry brought in its place in Incoming: when the entry named
// no arrival number (the console never held the question), the server is asked for it.
const PLACES_MAX = 200;
let placing = false;
function placeUnplaced() {
  if (placing || !view.filtering("incoming")) return;
  const filters = { ...view.filters, questions: view.filters.order === "questions" };
  const ids = model.unplaced().filter((qid) => passes(model.get(qid), filters)).slice(0, PLACES_MAX);
  if (!ids.length) return;
  placing = true;
  link.places(ids, (places) => {
    placing = false;
    if (!places) return;
    model.place(places, ids);
    view.schedule();
    placeUnplaced();
  });
}

const commands = new Commands(config, model, view, link);
view.optionsOf = (of) => commands.optionCount(of);
view.buildActions((name) => commands.drivable(name) && name !== "clear");
view.buildHelp(commands.drivable);
installKeys(view, commands);

// Mouse: a click selects a card; the action bar acts on the selection.
const columns = $("columns");
columns.addEventListener("click", (ev) => {
  const more = ev.target.closest("button[data-more]");
  if (more) { view.showMore(more.dataset.more); return; }
  const button = ev.target.closest("#actions button");
  if (button && button.hasAttribute("data-menu")) { view.toggleMenu(); return; }
  if (button) {
    if (button.closest("#actions-more")) view.toggleMenu(false);  // the menu closes as it acts
    commands.button(button);
    return;
  }
  if (ev.target.closest("a, textarea")) return;
  const li = ev.target.closest(".card");
  if (li) view.select(li.closest(".column").dataset.col, li.dataset.qid, true);
});
columns.addEventListener("focusin", (ev) => {
  const li = ev.target.closest && ev.target.closest(".card");
  if (li && li.dataset.qid !== view.selected.qid) view.select(li.closest(".column").dataset.col, li.dataset.qid, false);
  else if (ev.target.classList.contains("scroll")) {
    const col = ev.target.closest(".column").dataset.col;
    if (col !== view.selected.col) { view.selected = { col, qid: null, index: 0 }; view.restoreSelection(false); }
  }
});
for (const spec of Object.values(view.lists)) {
  if (spec.box) spec.box.addEventListener("toggle", () => view.schedule());
}
// Long lists are drawn lazily: a scroll draws the cards that came into view.
for (const scroller of document.querySelectorAll("#columns .scroll")) {
  scroller.addEventListener("scroll", () => view.schedule(), { passive: true });
}
window.addEventListener("resize", () => view.schedule());
$("help-open").addEventListener("click", () => commands.openHelp());
$("clear-screen").addEventListener("click", () => commands.clearScreen());

// Drag to reorder the queue.
const queueList = view.lists.queue.el;
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
  if (!dragging) return;
  const over = ev.target.closest(".card");
  const rect = over ? over.getBoundingClientRect() : null;
  commands.drop(dragging, over ? over.dataset.qid : null, !!rect && ev.clientY > rect.top + rect.height / 2);
});

// Filters and search.
let searchTimer = null;
$("search").addEventListener("input", (ev) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    view.filters.text = ev.target.value.trim().toLowerCase();
    placeUnplaced();
    view.schedule();
  }, 120);
});
for (const [id, key] of [["f-platform", "platform"], ["f-state", "state"], ["f-flag", "flag"], ["f-order", "order"], ["f-item", "item"]]) {
  $(id).addEventListener("change", (ev) => { view.filters[key] = ev.target.value; placeUnplaced(); view.schedule(); });
}

// New questions are announced politely, at most every few seconds.
setInterval(() => {
  if (newSinceAnnounce > 0) {
    view.say(newSinceAnnounce === 1 ? "1 new question" : `${newSinceAnnounce} new questions`);
    newSinceAnnounce = 0;
  }
}, 4000);
setInterval(() => health.tick(), 5000);

// For the tests and for debugging from the browser's console.
window.floorConsole = {
  socket: link.socket,
  lastId: () => model.lastId,
  count: () => model.questions.size,
  cardsInDom: () => view.cards.size,
  counts: () => ({ ...model.counts }),
};
