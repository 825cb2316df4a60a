// Board screen and stream overlay. The server sends the whole board ({id, current, next})
// whenever it changes and on every (re)connection; this page only draws the newest one it has.
// Post text is always set as textContent. When the connection drops, the last board stays up.
import { askedBy, openLink, who } from "./board_link.js";

const config = JSON.parse(document.getElementById("floor-config").textContent);
const body = document.body;
const status = document.getElementById("status");
const card = document.getElementById("now-card");
const box = document.getElementById("now-box");
const text = document.getElementById("now-text");
const asker = document.getElementById("now-asker");
const group = document.getElementById("now-group");
const slots = Array.from(document.querySelectorAll("#next-list .slot"));
const agendaItem = document.getElementById("agenda-item");  // the board's, not the overlay's
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const FADE_MS = 250;
// The question text shrinks to fit its box, down to this fraction of its full size.
const MIN_SCALE = 0.2;

let shownKey = null;
let shownId = null;
const timers = new Map();

function fits() {
  return box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth;
}

// The largest font size (up to the stylesheet's) at which the whole question shows.
function fit() {
  text.style.fontSize = "";
  if (!text.textContent || fits()) return;
  let high = parseFloat(getComputedStyle(text).fontSize);
  let low = high * MIN_SCALE;
  while (high - low > 0.5) {
    const middle = (high + low) / 2;
    text.style.fontSize = middle + "px";
    if (fits()) low = middle; else high = middle;
  }
  text.style.fontSize = low + "px";
}

// Run `change` on `element` behind a fade (none if the viewer asked for reduced motion).
function fade(element, change) {
  clearTimeout(timers.get(element));
  if (reducedMotion.matches) { change(); return; }
  element.classList.add("fading");
  timers.set(element, setTimeout(() => { change(); element.classList.remove("fading"); },
    FADE_MS));
}

function drawCurrent(q) {
  text.textContent = q ? q.text : "";
  // Each question's own direction, sent by the server (an Arabic question that starts with a
  // Latin hashtag is still right-to-left): dir="auto" would read it from the hashtag.
  text.dir = (q && q.dir) || "auto";
  asker.textContent = q ? who(q) : "";
  group.textContent = q ? askedBy(q) : "";
  body.classList.toggle("is-idle", !q);
  fit();
}

function showCurrent(q) {
  const key = q ? JSON.stringify(q) : "";
  if (key === shownKey) return;
  shownKey = key;
  const previousId = shownId;
  shownId = q ? q.id : null;
  clearTimeout(timers.get(card));
  card.classList.remove("fading");
  if (!q) {
    // The card fades out with its words, then empties.
    body.classList.add("is-idle");
    if (reducedMotion.matches) drawCurrent(null);
    else timers.set(card, setTimeout(() => drawCurrent(null), FADE_MS));
  } else if (q.id === previousId || body.classList.contains("is-idle")) {
    drawCurrent(q); // an edit changes the words in place; from idle, the card fades in
  } else {
    fade(card, () => drawCurrent(q));
  }
}

function showNext(list) {
  slots.forEach((slot, i) => {
    const q = list[i];
    const key = q ? JSON.stringify(q) : "";
    if (slot.dataset.key === key) return;
    slot.dataset.key = key;
    const [slotText, slotAsker] = slot.children;
    fade(slot, () => {
      slotText.textContent = q ? q.text : "";
      slotText.dir = (q && q.dir) || "auto";
      slotAsker.textContent = q ? [who(q), askedBy(q)].filter(Boolean).join(" · ") : "";
      slot.classList.toggle("empty", !q);
    });
  });
}

function setStatus(state, message) {
  body.dataset.connection = state;
  status.textContent = message;
}

body.classList.add("is-idle");
// The card's size comes from the page's grid (the overlay's from the window), never from
// the words: refit when it changes.
const resized = new ResizeObserver(fit);
resized.observe(card);
resized.observe(document.documentElement);

openLink(config, {
  setStatus,
  onView(board) {
    showCurrent(board.current);
    showNext(board.next || []);
    if (agendaItem) agendaItem.textContent = board.item ? `Questions on: ${board.item.title}` : "";
  },
  onRevoked() {
    showCurrent(null);
    showNext([]);
    setStatus("revoked", "This screen link was revoked.");
  },
});
