// What the selected card offers: the table's primary actions on the card, the rest in its menu,
// and only what can apply (its states, its `when`, a choice with options):
// node --test tests/js/card_actions.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { ASKERS } from "../../web/static/console/commands.js";
import { offered } from "../../web/static/console/state.js";
import {
  WHEN, authorKey, barGroups, cardActions, drivable, offeredOn, surroundings,
} from "../../web/static/console/table.js";
import { question } from "./fixtures/question.mjs";

// The page config as the server sends it (tests/js/test_config_fixture.py checks it is).
const CONFIG = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8"));
const TABLE = CONFIG.actions;
const GROUPS = barGroups(TABLE, (name) => drivable(TABLE, name, ASKERS) && name !== "clear");
const NONE = { agenda: 0, board_members: 0 };

// The card's actions on `q` among `others` (the questions the console holds), by name.
function actions(q, { others = [], queue = [], groupTarget = null, lists = NONE } = {}) {
  const around = { ...surroundings([q, ...others], CONFIG.muted_reason), options: (of) => lists[of] || 0 };
  const can = offered(TABLE, q, { queue, groupTarget });
  const { main, more } = cardActions(TABLE, GROUPS, q, can, around);
  return { main: main.map((a) => a.name), more: more.map((a) => a.name) };
}

describe("the selected card", () => {
  it("knows every condition the table names", () => {
    for (const [name, spec] of Object.entries(TABLE)) assert.ok(Object.hasOwn(WHEN, spec.when), `${name}: ${spec.when}`);
  });

  it("shows the table's primary actions, in its order, and the rest in its menu", () => {
    const { main, more } = actions(question(1));
    assert.deepEqual(main, ["approve", "reject", "edit", "screen"]);
    for (const name of main) assert.equal(TABLE[name].primary, true, name);
    for (const name of more) assert.ok(!TABLE[name] || !TABLE[name].primary, name);
    assert.deepEqual(more, ["hold", "set_aside", "target", "star", "mute"]);
  });

  it("follows the question: queued with something to undo, or on screen", () => {
    const queued = question(2, { state: "approved", undo_depth: 1 });
    const { main, more } = actions(queued, { queue: ["x:9", queued.id, "x:8"] });
    assert.deepEqual(main, ["reject", "edit", "screen", "undo"]);
    assert.ok(more.includes("up") && more.includes("down") && more.includes("hold"));
    const shown = actions(question(3, { state: "on_screen", undo_depth: 1 }));
    assert.deepEqual(shown.main, ["edit", "answer", "undo"]);
    assert.ok(shown.more.includes("unscreen") && !shown.more.includes("hold"));
  });

  it("names the action of a shared key that applies (unstar on a starred card)", () => {
    assert.ok(actions(question(4, { starred: true })).more.includes("unstar"));
    assert.ok(!actions(question(4, { starred: true })).more.includes("star"));
  });
});

describe("an action that cannot apply is not offered", () => {
  const muted = question(10, { state: "held", aside_reason: CONFIG.muted_reason });

  it("unmute only for an author the console knows to be muted, mute only for the others", () => {
    const ada = question(11);  // the same author as the held card
    assert.ok(actions(ada, { others: [muted] }).more.includes("unmute"));
    assert.ok(!actions(ada, { others: [muted] }).more.includes("mute"));
    assert.ok(actions(muted).more.includes("unmute"));
    assert.ok(!actions(ada).more.includes("unmute"));
    // Held for another reason, or the same handle on another platform: not muted.
    const held = question(12, { state: "held", aside_reason: "later" });
    assert.ok(!actions(ada, { others: [held] }).more.includes("unmute"));
    const elsewhere = question(13, { platform: "yt" });
    assert.ok(!actions(elsewhere, { others: [muted] }).more.includes("unmute"));
    // No author (the web form's anonymous questions): no one to mute.
    assert.ok(!actions(question(14, { author_name: "", author_handle: "" })).more.includes("mute"));
  });

  it("a choice only while its list has options (board members, agenda items)", () => {
    const q = question(20);
    assert.ok(!actions(q).more.includes("direct") && !actions(q).more.includes("tag"));
    const lists = { board_members: 2, agenda: 1 };
    assert.ok(actions(q, { lists }).more.includes("direct") && actions(q, { lists }).more.includes("tag"));
  });

  it("a repeat's actions only where triage suggested one", () => {
    const original = question(30);
    const repeat = question(31, { triage: { suggest: { qid: original.id, score: 0.9 } } });
    assert.ok(!actions(original).more.includes("dismiss"));
    assert.ok(!actions(original).more.includes("reject_like"));
    assert.ok(actions(repeat).more.includes("dismiss") && actions(repeat).more.includes("reject_like"));
    // The question others repeat: all of them can go at once; it is no one's repeat itself.
    const { more } = actions(original, { others: [repeat] });
    assert.ok(more.includes("reject_like") && !more.includes("dismiss"));
  });

  it("grouping only with a target marked that is another question", () => {
    const q = question(40);
    assert.ok(!actions(q).more.includes("group"));
    assert.ok(actions(q, { groupTarget: "x:41" }).more.includes("group"));
    assert.ok(!actions(q, { groupTarget: q.id }).more.includes("group"));
  });

  it("a condition the console does not know: not offered", () => {
    const table = { ...TABLE, mute: { ...TABLE.mute, when: "moon_is_full" } };
    const around = { muted: new Set(), repeated: new Set(), options: () => 0 };
    assert.equal(offeredOn(table, "mute", question(50), { mute: true }, around), false);
  });
});

describe("a closed menu", () => {
  it("offers the rest without checking their conditions, and never asks what is around", () => {
    const around = {
      get muted() { throw new Error("asked who is muted"); },
      get repeated() { throw new Error("asked for repeats"); },
      options: () => 0,
    };
    const q = question(60);
    const can = offered(TABLE, q, { queue: [], groupTarget: null });
    const { main, more } = cardActions(TABLE, GROUPS, q, can, around, false);
    assert.deepEqual(main.map((a) => a.name), ["approve", "reject", "edit", "screen"]);
    assert.ok(more.length > 0);
    assert.throws(() => cardActions(TABLE, GROUPS, q, can, around, true), /asked/);
  });
});

describe("who a mute names", () => {
  it("is the server's author key: platform and handle, else the name", () => {
    assert.equal(authorKey(question(1)), "x:ada");
    assert.equal(authorKey(question(2, { author_handle: "", platform: "fb" })), "fb:Ada");
    assert.equal(authorKey(question(3, { author_handle: "", author_name: "" })), "");
  });
});
