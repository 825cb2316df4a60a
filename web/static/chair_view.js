// The chair's view. The server sends the whole view ({id, now, current, next, waiting, notes})
// whenever it changes and on every (re)connection; this page draws the newest one and ticks the
// timer. Text is always set as textContent. When the connection drops, the last view stays up.
import { askedBy, openLink, who } from "./board_link.js";

const config = JSON.parse(document.getElementById("floor-config").textContent);
const E = config.events;
const $ = (id) => document.getElementById(id);
const body = document.body;
const noteTemplate = $("note-template").content.firstElementChild;
const slots = Array.from(document.querySelectorAll("#next-list .slot"));

let since = null;       // when the current question went on screen, in the server's ms
let skew = 0;           // the server's clock minus ours, from the last view

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}
function hhmm(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

function tick() {
  const timer = $("timer");
  if (since === null) {
    timer.textContent = "–";
    timer.removeAttribute("datetime");
    body.classList.remove("over-limit");
    return;
  }
  const seconds = Math.max(0, Math.floor((Date.now() + skew - since) / 1000));
  timer.textContent = clock(seconds);
  timer.setAttribute("datetime", `PT${seconds}S`);
  const limit = Number(config.soft_limit_seconds) || 0;
  body.classList.toggle("over-limit", limit > 0 && seconds >= limit);
}

function showCurrent(q) {
  $("now-text").textContent = q ? q.text : "";
  $("now-text").dir = (q && q.dir) || "auto";  // the server's reading (aggregator/core/public_text.py)
  $("now-asker").textContent = q ? who(q) : "";
  $("now-group").textContent = q ? askedBy(q) : "";
  $("now-item").textContent = q && q.item ? `· on ${q.item}` : "";
  body.classList.toggle("is-idle", !q);
  const start = q && q.on_screen_since ? Date.parse(q.on_screen_since) : NaN;
  since = isNaN(start) ? null : start;
  tick();
}

function showItem(item, waitingItem) {
  $("agenda-item").textContent = item ? `Questions on: ${item.title} · ${waitingItem} waiting` : "";
}

// The agenda, as buttons: a tap moves the meeting (and the board) to that item.
function showAgenda(items, current) {
  const nav = $("agenda-nav");
  nav.hidden = !items.length;
  body.classList.toggle("with-agenda", items.length > 0);
  const key = JSON.stringify([items, current]);
  if (nav.dataset.key === key) return;
  nav.dataset.key = key;
  const buttons = [{ id: "", title: "All questions" }, ...items].map((item) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = item.title;
    b.setAttribute("aria-pressed", String(item.id === current));
    b.addEventListener("click", () => {
      socket.timeout(8000).emit(E.move, { item: item.id }, (err, reply) => {
        $("notes-error").textContent = err ? "No answer from the server: tap again."
          : (reply.ok ? "" : reply.error);
      });
    });
    return b;
  });
  nav.replaceChildren(...buttons);
}

function showNext(list, waiting) {
  slots.forEach((slot, i) => {
    const q = list[i];
    const [text, asker] = slot.children;
    text.textContent = q ? q.text : "";
    text.dir = (q && q.dir) || "auto";
    asker.textContent = q ? [who(q), askedBy(q)].filter(Boolean).join(" · ") : "";
    slot.classList.toggle("empty", !q);
  });
  $("waiting").textContent = `· ${waiting} waiting in all`;
}

function acknowledge(note, button) {
  button.disabled = true;
  socket.timeout(8000).emit(E.acknowledge, { note: note.id }, (err, reply) => {
    if (err || !reply.ok) {
      button.disabled = false;
      $("notes-error").textContent = err ? "No answer from the server: tap again." : reply.error;
    } else {
      $("notes-error").textContent = "";
    }
  });
}

function showNotes(notes) {
  const items = notes.map((note) => {
    const li = noteTemplate.cloneNode(true);
    li.dataset.note = note.id;
    li.classList.toggle("seen", !!note.seen_at);
    li.querySelector(".note-text").textContent = note.text;
    li.querySelector(".note-by").textContent = `${note.by} · ${hhmm(note.at)}`;
    const button = li.querySelector(".seen-button");
    button.setAttribute("aria-label", "Seen: " + note.text.slice(0, 60));
    if (note.seen_at) button.remove();
    else button.addEventListener("click", () => acknowledge(note, button));
    if (!note.seen_at) li.querySelector(".seen-mark").remove();
    return li;
  });
  $("notes-list").replaceChildren(...items);
  const open = notes.filter((n) => !n.seen_at).length;
  $("notes-count").textContent = open ? `(${open} new)` : "";
  $("notes-empty").hidden = notes.length > 0;
  body.classList.toggle("has-notes", open > 0);
}

function setStatus(state, message) {
  body.dataset.connection = state;
  $("status").textContent = message;
}

const socket = openLink(config, {
  setStatus,
  onView(view) {
    const now = Date.parse(view.now);
    if (!isNaN(now)) skew = now - Date.now();
    showCurrent(view.current);
    showNext(view.next || [], view.waiting || 0);
    showItem(view.item, view.waiting_item || 0);
    showAgenda(view.agenda || [], view.item ? view.item.id : "");
    showNotes(view.notes || []);
  },
  onRevoked() {
    showCurrent(null);
    showNext([], 0);
    showItem(null, 0);
    showAgenda([], "");
    showNotes([]);
    setStatus("revoked", "This chair link was revoked.");
  },
});
setInterval(tick, 1000);
