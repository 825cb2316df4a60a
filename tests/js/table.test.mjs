// The console's buttons, keys' help, dialogs and words come from the server's action table:
// node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { beforeEach, describe, it } from "node:test";

import { ASKERS, CHOICES, Commands } from "../../web/static/console/commands.js";
import { Model } from "../../web/static/console/state.js";
import { barGroups, doneWords, drivable, helpRows } from "../../web/static/console/table.js";
import { question } from "./fixtures/question.mjs";

// The page config as the server sends it (tests/js/test_config_fixture.py checks it is).
const CONFIG = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8"));
const TABLE = CONFIG.actions;
const canRun = (table) => (name) => drivable(table, name, ASKERS);
const bar = (table) => barGroups(table, canRun(table)).map((g) => g.names.join("/"));

// Rows the console has never seen: a note pinned to a card (free text), a choice of a board
// member, and a way of asking it does not know. Their places: the pin's row after edit's,
// the hand's after approve's.
const PIN = {
  from: ["approved", "new"], to: null, undoable: false, many: false, asks: "text",
  params: [{ name: "words", kind: "text", options: [], of: "", field: "pinned" }], limits: { words: 80 },
  key: "p", order: TABLE.edit.order + 0.5, primary: false, label: "Pin a note", done: "pinned a note to",
  hint: "moderators only", prompt: "What should the others know?",
};
const HAND = {
  from: ["new"], to: null, undoable: false, many: false, asks: "choice",
  params: [{ name: "who", kind: "choice", options: [], of: "board_members", field: "" }], limits: {},
  key: "H", order: TABLE.approve.order + 0.5, primary: false, label: "Hand to", done: "handed", hint: "", prompt: "Hand to whom?",
};
const MAP = { ...PIN, asks: "map", key: "P", label: "Place on a map" };

describe("the table the server sends", () => {
  it("asks only in ways the console has an asker for, from lists it holds", () => {
    for (const [name, spec] of Object.entries(TABLE)) {
      assert.ok(Object.hasOwn(ASKERS, spec.asks) || (spec.asks === "place" && !spec.key),
        `${name} asks “${spec.asks}”`);
      for (const param of spec.params) {
        if (param.of) assert.ok(Object.hasOwn(CHOICES, param.of), `${name}: ${param.of}`);
      }
    }
  });

  it("orders the action bar, with the console's own moves where their action sits", () => {
    // The order the console's own list had (BAR_ORDER) and the rest as the table lists them;
    // an action added in between takes its place without this test changing.
    const known = [
      "approve", "reject", "edit", "screen", "answer", "unscreen", "hold/unhold", "up", "down",
      "target", "group", "star/unstar", "undo", "dismiss", "tag", "direct", "clear", "mute",
      "unmute", "reject_like"];
    assert.deepEqual(bar(TABLE).filter((b) => known.includes(b)), known);
  });

  it("words every log entry a card can show as the server does", () => {
    assert.equal(doneWords(CONFIG, "retract"), "retracted (the platform took it back)");
    assert.equal(doneWords(CONFIG, "triaged"), "assessed");
    assert.equal(doneWords(CONFIG, "approve"), "approved");
    assert.equal(doneWords(CONFIG, "shout"), "shout");  // a newer server's entry reads as itself
  });
});

describe("a row the server adds", () => {
  it("gets its button in its place and its line in the keys' help", () => {
    const table = { ...structuredClone(TABLE), pin: PIN, hand: HAND };
    assert.deepEqual(bar(table).slice(0, 5), ["approve", "hand", "reject", "edit", "pin"]);
    assert.ok(helpRows(table, canRun(table)).some((row) =>
      row.key === "p" && row.text === "Pin a note (moderators only)"));
  });

  it("is not offered while the console cannot ask for its params that way", () => {
    const table = { ...structuredClone(TABLE), map: MAP };
    assert.equal(drivable(table, "map", ASKERS), false);
    assert.ok(!bar(table).includes("map"));
  });
});

// -- the dialogs, on a stand-in page --------------------------------------------------------

class Element {
  constructor(tag) {
    this.tag = tag;
    this.dataset = {};
    this.children = [];
    this.listeners = {};
    this.open = false;
    this.textContent = "";
    this.value = "";
    this.maxLength = -1;
  }

  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  showModal() { this.open = true; }
  close() { this.open = false; for (const fn of this.listeners.close || []) fn(); }
  querySelector() { return new Element("any"); }
  querySelectorAll() { return []; }
  append(...children) { this.children.push(...children); }
  replaceChildren(...children) { this.children = children; }
  removeAttribute(name) { if (name === "maxlength") this.maxLength = -1; }
  setAttribute() {}
  focus() {}
  select() {}
}

let page;
let sent;
let warned;

function console_(table, q) {
  const model = new Model();
  model.applySnapshot({ questions: [q], queue: [], screen: "", last_id: "1-0" });
  const view = {
    current: () => model.get(q.id), agenda: { items: [] },
    warn: (text) => warned.push(text), say() {}, settled() {}, paintSelection() {},
  };
  const link = { connected: () => true, act: (payload, done) => { sent.push(payload); done(null, {}); } };
  const config = { ...CONFIG, actions: table, chair: { ...CONFIG.chair, board_members: ["the Chair", "the Treasurer"] } };
  return new Commands(config, model, view, link);
}

describe("a row the server adds gets its dialog", () => {
  beforeEach(() => {
    page = new Map();
    sent = [];
    warned = [];
    globalThis.document = {
      getElementById: (id) => { if (!page.has(id)) page.set(id, new Element(id)); return page.get(id); },
      createElement: (tag) => new Element(tag),
    };
  });

  it("a text param: the text dialog, with the row's words and cap, sends the row's param", () => {
    const q = question(1, { pinned: "Seen before" });
    const commands = console_({ ...structuredClone(TABLE), pin: PIN }, q);
    assert.equal(commands.byKey("p"), true);
    assert.equal(page.get("text-ask").open, true);
    assert.equal(page.get("text-ask-title").textContent, "What should the others know?");
    assert.equal(page.get("text-ask-value").maxLength, 80);
    assert.equal(page.get("text-ask-value").value, "Seen before");  // starts from its field
    page.get("text-ask-value").value = "  Asked at the last meeting too ";
    commands.dialogKey({ key: "Enter", shiftKey: false, preventDefault() {} });
    assert.equal(page.get("text-ask").open, false);
    assert.deepEqual(sent, [{ action: "pin", qid: q.id, version: q.version,
      params: { words: "Asked at the last meeting too" } }]);
  });

  it("a choice param: the numbered list of its options, sends the one picked", () => {
    const q = question(2);
    const commands = console_({ ...structuredClone(TABLE), hand: HAND }, q);
    commands.byKey("H");
    assert.equal(page.get("choice-ask").open, true);
    assert.equal(page.get("choice-ask-title").textContent, "Hand to whom?");
    assert.equal(page.get("choice-ask-none").textContent, "anyone");
    assert.equal(page.get("choice-list").children.length, 3);  // two members, and none
    commands.dialogKey({ key: "2", preventDefault() {} });
    assert.deepEqual(sent.map((p) => [p.action, p.params]), [["hand", { who: "the Treasurer" }]]);
  });

  it("a way of asking the console does not know: refused in words, nothing sent", () => {
    const q = question(3);
    const commands = console_({ ...structuredClone(TABLE), map: MAP }, q);
    commands.run(["map"]);
    assert.deepEqual(warned, ["The console cannot run “Place on a map” yet."]);
    assert.deepEqual(sent, []);
  });
});
