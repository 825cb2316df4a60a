// "On the board now": the board itself, as the board screens are sent it (web/screen.py), so the
// preview shows exactly their words (the public text: aggregator/core/public_text.py). The view
// says when its own state suggests the board changed (`ask`); the newest board answered wins.
import { askedBy, isBefore, who } from "../board_link.js";

const ACK_TIMEOUT = 8000;
// A board not had (no answer, the socket down) is asked for again this soon, unless the next
// change asks first.
const RETRY_MS = 3000;

// The preview's parts for one board ({current, next, item}), as DOM nodes.
export function previewParts(board, doc = document) {
  const el = (tag, className, text) => {
    const node = doc.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const parts = [];
  const current = board && board.current;
  if (current) {
    const now = el("div", "preview-current");
    const text = el("p", "preview-text", current.text);
    text.dir = current.dir || "auto";
    now.append(text, el("p", "preview-who", [who(current), askedBy(current)].filter(Boolean).join(" · ")));
    parts.push(now);
  } else {
    parts.push(el("p", "preview-empty", "The screen is clear."));
  }
  if (board && board.item) parts.push(el("p", "preview-next-title", `Questions on: ${board.item.title}`));
  const next = (board && board.next) || [];
  if (next.length) {
    const ol = el("ol", "preview-next");
    for (const q of next) {
      const li = el("li", "", [q.text, [who(q), askedBy(q)].filter(Boolean).join(" · ")].filter(Boolean).join(" — "));
      li.dir = q.dir || "auto";
      ol.append(li);
    }
    parts.push(el("p", "preview-next-title", "Next:"), ol);
  }
  return parts;
}

export class BoardPreview {
  constructor(config, socket, box = document.getElementById("preview")) {
    this.event = (config.preview && config.preview.event) || "board";
    this.socket = socket;
    this.box = box;
    this.shownId = null;
    this.retry = null;
  }

  ask() {
    clearTimeout(this.retry);
    this.socket.timeout(ACK_TIMEOUT).emit(this.event, {}, (err, reply) => {
      if (err || !reply || !reply.ok) {
        this.retry = setTimeout(() => this.ask(), RETRY_MS);
        return;
      }
      this.show(reply.board);
    });
  }

  show(board) {
    if (this.shownId !== null && isBefore(board.id, this.shownId)) return;
    this.shownId = board.id;
    this.box.replaceChildren(...previewParts(board, this.box.ownerDocument));
  }
}
