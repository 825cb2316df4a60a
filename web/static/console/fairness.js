// The console's record panel: the ledger's head (to note during the meeting) and fairness, live
// (answered and waiting by platform, the oldest question waiting on each, repeat askers). The
// server computes the numbers for all of its consoles (aggregator/followers/fairness.py) and pushes them
// as the "record" event; this module only words and draws them. The functions at the top are
// pure (tests/js/fairness.test.mjs).

// A platform's share of the answers this many points above its share of the questions is
// pointed out, once it has at least MIN_ANSWERED answers (a few answers prove nothing).
export const OVER_POINTS = 20;
export const MIN_ANSWERED = 5;
// An author with this many questions answered is pointed out: one voice heard again and again.
export const VOICE_ANSWERED = 2;

export function headText(head) {
  if (!head || !Number.isInteger(head.count) || typeof head.hash !== "string") return "";
  return `${head.count}:${head.hash}`;
}

export function lagText(lag) {
  const n = Number(lag) || 0;
  if (n <= 0) return "";
  return `${n} ${n === 1 ? "entry" : "entries"} not chained yet: is floor ledger running?`;
}

export function ageText(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  const h = Math.floor(s / 3600);
  return `${h} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

// Seconds since an ISO time, or null when there is none.
export function secondsSince(iso, nowMs) {
  const t = iso ? Date.parse(iso) : NaN;
  return isNaN(t) ? null : Math.max(0, Math.floor((nowMs - t) / 1000));
}

function percent(part, whole) {
  return whole > 0 ? Math.round((100 * part) / whole) : 0;
}

// One row per platform: counts, shares of questions and answers, the oldest waiting, and
// whether its share of answers is well above its share of questions.
export function platformRows(fairness, nowMs, names = {}) {
  const platforms = (fairness && fairness.platforms) || [];
  const received = platforms.reduce((n, p) => n + p.received, 0);
  const answered = platforms.reduce((n, p) => n + p.answered, 0);
  return platforms.map((p) => {
    const receivedShare = percent(p.received, received);
    const answeredShare = percent(p.answered, answered);
    const oldest = p.oldest_waiting;
    const age = oldest ? secondsSince(oldest.received_at, nowMs) : null;
    return {
      platform: p.platform,
      name: names[p.platform] || p.platform,
      received: p.received, answered: p.answered, waiting: p.waiting, rejected: p.rejected,
      receivedShare, answeredShare,
      over: p.answered >= MIN_ANSWERED && answeredShare - receivedShare >= OVER_POINTS,
      oldestAge: age === null ? "" : ageText(age),
      oldestText: oldest ? oldest.text : "",
      oldestQid: oldest ? oldest.qid : "",
    };
  });
}

// One line per repeat asker shown, and whether that voice has been answered again and again.
export function askerRows(fairness, names = {}) {
  return ((fairness && fairness.repeat_askers) || []).map((a) => ({
    who: `${a.author} (${names[a.platform] || a.platform})`,
    questions: a.questions, answered: a.answered, waiting: a.waiting,
    heard: a.answered >= VOICE_ANSWERED,
  }));
}

// The panel's one-line verdict, for moderators who only glance at it.
export function summaryLine(fairness, names = {}) {
  const rows = platformRows(fairness, 0, names);
  if (!rows.length) return "No questions yet.";
  const over = rows.filter((r) => r.over).map((r) => `${r.name} has ${r.answeredShare}% of the answers for ${r.receivedShare}% of the questions`);
  const heard = askerRows(fairness, names).filter((a) => a.heard).map((a) => `${a.who} answered ${a.answered} times`);
  const notes = [...over, ...heard];
  return notes.length ? notes.join("; ") + "." : "No platform or voice stands out.";
}

// -- the panel -------------------------------------------------------------------------------

function cell(tag, text, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

export class FairnessPanel {
  constructor(config, socket, root = document.getElementById("record-panel")) {
    this.names = config.platforms || {};
    this.root = root;
    this.state = null;
    if (!root) return;
    socket.on((config.events && config.events.record) || "record", (state) => this.show(state));
    setInterval(() => this.draw(), 15000);  // the ages move even when nothing else does
  }

  show(state) {
    this.state = state;
    this.draw();
  }

  draw() {
    if (!this.root || !this.state) return;
    const { head, lag, fairness } = this.state;
    const q = (sel) => this.root.querySelector(sel);
    q("[data-head]").textContent = headText(head);
    const lagEl = q("[data-lag]");
    lagEl.textContent = lagText(lag);
    lagEl.hidden = !lagText(lag);
    q("[data-verdict]").textContent = summaryLine(fairness, this.names);
    const body = q("[data-platforms]");
    body.replaceChildren(...platformRows(fairness, Date.now(), this.names).map((r) => {
      const tr = document.createElement("tr");
      if (r.over) tr.className = "over";
      tr.append(cell("th", r.name, { scope: "row" }), cell("td", r.answered), cell("td", r.waiting),
        cell("td", r.rejected), cell("td", r.oldestAge, r.oldestText ? { title: r.oldestText } : {}));
      return tr;
    }));
    const askers = q("[data-askers]");
    const rows = askerRows(fairness, this.names);
    askers.replaceChildren(...rows.map((a) => cell("li", `${a.who}: ${a.questions} questions, ${a.answered} answered, ${a.waiting} waiting`, a.heard ? { class: "over" } : {})));
    const more = (fairness && fairness.repeat_count) || 0;
    q("[data-askers-none]").hidden = rows.length > 0;
    q("[data-askers-more]").textContent = more > rows.length ? `and ${more - rows.length} more` : "";
  }
}
