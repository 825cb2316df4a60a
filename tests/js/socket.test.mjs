// The console's connection (web/static/console/socket.js) with a stand-in for socket.io's
// client: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { connect, messageSize, refuseOversized } from "../../web/static/console/socket.js";
import { Model } from "../../web/static/console/state.js";

const config = { namespace: "/console", events: { snapshot: "snapshot", entry: "entry", catch_up: "catch_up", act: "act" } };

function fakeSocket() {
  return {
    handlers: new Map(), active: true, connected: true, disconnected: 0, connected_again: 0,
    on(name, handler) { this.handlers.set(name, handler); },
    fire(name, ...args) { this.handlers.get(name)(...args); },
    disconnect() { this.disconnected += 1; },
    connect() { this.connected_again += 1; },
    sent: [],
    timeout() { return this; },
    emit(name, payload, ack) { this.sent.push({ name, payload, ack }); },
  };
}

function open() {
  const socket = fakeSocket();
  globalThis.window = { io: () => socket };
  const model = new Model();
  const changed = [];
  const noop = () => {};
  connect(config, model, { changed: (live, entry) => changed.push(entry.id), snapshot: noop, status: noop,
    login: noop, presence: noop, editing: noop, editingDone: noop, health: noop, firstMark: noop });
  socket.fire("connect");
  socket.fire("snapshot", { questions: [], queue: ["x:1", "x:2"], screen: "", last_id: "5-0" });
  return { socket, model, changed };
}

describe("console connection", () => {
  it("keeps the queue from the entries' edits", () => {
    const { socket, model, changed } = open();
    socket.fire("entry", { id: "6-0", type: "approve", qid: "x:3", qs: [],
      queue_edit: { drop: [], put: [[2, "x:3"]], length: 3 } });
    assert.deepEqual(model.queue, ["x:1", "x:2", "x:3"]);
    assert.deepEqual(changed, ["6-0"]);
    assert.equal(socket.disconnected, 0);
  });

  it("starts again from a snapshot when an edit does not fit the queue it holds", () => {
    const { socket, model } = open();
    socket.fire("entry", { id: "6-0", type: "reorder", qid: "x:9", qs: [],
      queue_edit: { drop: ["x:9"], put: [[0, "x:9"]], length: 2 } });  // x:9 was never queued here
    assert.equal(socket.disconnected, 1);
    assert.equal(socket.connected_again, 1);
    assert.equal(model.lastId, null);  // so the server sends a snapshot, not a catch-up
    socket.fire("connect");
    socket.fire("snapshot", { questions: [], queue: ["x:9", "x:1"], screen: "", last_id: "6-0" });
    assert.deepEqual(model.queue, ["x:9", "x:1"]);
    assert.equal(model.outOfStep, false);
  });

  it("catches up before applying an entry that does not follow the last one applied", () => {
    const { socket, model, changed } = open();
    socket.fire("entry", { id: "7-0", prev: "6-0", type: "star", qid: "x:1", qs: [] });
    assert.deepEqual(changed, []);  // 6-0 never came: nothing is applied out of order
    const ask = socket.sent.at(-1);
    assert.equal(ask.name, "catch_up");
    assert.deepEqual(ask.payload, { after: "5-0" });
    socket.fire("entry", { id: "8-0", prev: "7-0", type: "star", qid: "x:2", qs: [] });  // waits
    ask.ack(null, { entries: [{ id: "6-0", prev: "5-0", type: "star", qid: "x:1", qs: [] },
      { id: "7-0", prev: "6-0", type: "star", qid: "x:1", qs: [] }] });
    assert.deepEqual(changed, ["6-0", "7-0", "8-0"]);
    assert.equal(model.lastId, "8-0");
    socket.fire("entry", { id: "9-0", prev: "8-0", type: "star", qid: "x:2", qs: [] });
    assert.deepEqual(changed, ["6-0", "7-0", "8-0", "9-0"]);
    assert.equal(socket.sent.filter((m) => m.name === "catch_up").length, 1);
  });

  it("drops an entry it already holds, without asking for anything", () => {
    const { socket, changed } = open();
    socket.fire("entry", { id: "4-0", prev: "3-0", type: "star", qid: "x:1", qs: [] });
    socket.fire("entry", { id: "6-0", prev: "5-0", type: "star", qid: "x:1", qs: [] });
    assert.deepEqual(changed, ["6-0"]);
    assert.equal(socket.sent.length, 0);
  });

  it("applies nothing more once it has asked for a new snapshot", () => {
    const { socket, model, changed } = open();
    socket.fire("entry", { id: "7-0", prev: "6-0", type: "star", qid: "x:1", qs: [] });
    socket.sent.at(-1).ack(null, { entries: [
      { id: "6-0", prev: "5-0", type: "reorder", qid: "x:9", qs: [],
        queue_edit: { drop: ["x:9"], put: [[0, "x:9"]], length: 2 } },  // does not fit
      { id: "7-0", prev: "6-0", type: "star", qid: "x:1", qs: [] }] });
    assert.deepEqual(changed, ["6-0"]);
    assert.equal(model.lastId, null);  // the reconnect asks for a snapshot, not a catch-up
    assert.equal(socket.connected_again, 1);
  });
});

describe("a message longer than the server takes", () => {
  function recording() {
    const sent = [];
    const socket = {
      flags: {},
      timeout(ms) { this.flags.timeout = ms; return this; },
      emit(...args) { sent.push(args); this.flags = {}; return this; },
    };
    return { socket, sent };
  }

  it("is not sent, and its reply says why", () => {
    const { socket, sent } = recording();
    const limit = 64 * 1024;
    refuseOversized(socket, "/console", limit);
    const text = "é".repeat(40_000);  // 40,000 characters, 80,000 bytes
    assert.ok(messageSize("/console", "act", [{ params: { text } }]) > limit);
    const replies = [];
    socket.timeout(8000).emit("act", { action: "edit", params: { text } }, (err, reply) => replies.push([err, reply]));
    assert.equal(sent.length, 0);
    assert.equal(replies.length, 1);
    const [err, reply] = replies[0];
    assert.equal(err, null);
    assert.equal(reply.ok, false);
    assert.match(reply.error, /Not sent: this is 79 kB, and the server takes at most 64 kB in one message/);
    assert.deepEqual(socket.flags, {});  // the next message is not sent with this one's timeout
    socket.emit("note", { text: "x".repeat(200_000) }, (reply) => replies.push(reply));
    assert.equal(replies[1].ok, false);  // without timeout(): the reply alone, as the server's
  });

  it("is measured as sent: up to the limit goes, one byte over does not", () => {
    const { socket, sent } = recording();
    const payload = { text: "x".repeat(1000) };
    const limit = messageSize("/console", "act", [payload]);
    refuseOversized(socket, "/console", limit);
    socket.emit("act", payload, () => {});
    socket.emit("act", { text: "x".repeat(1001) }, () => {});
    assert.equal(sent.length, 1);
  });
});
