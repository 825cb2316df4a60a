// The console's connection (web/static/console/socket.js) with a stand-in for socket.io's
// client: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { connect } from "../../web/static/console/socket.js";
import { Model } from "../../web/static/console/state.js";

const config = { namespace: "/console", events: { snapshot: "snapshot", entry: "entry", catch_up: "catch_up", act: "act" } };

function fakeSocket() {
  return {
    handlers: new Map(), active: true, connected: true, disconnected: 0, connected_again: 0,
    on(name, handler) { this.handlers.set(name, handler); },
    fire(name, ...args) { this.handlers.get(name)(...args); },
    disconnect() { this.disconnected += 1; },
    connect() { this.connected_again += 1; },
    timeout() { return { emit() {} }; },
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
});
