// The console's connection: a snapshot, then log entries by id; after a drop, the entries it
// missed (catch-up), or a new snapshot when it is too far behind. Entries that arrive between a
// (re)connect and the snapshot or catch-up are buffered, then applied in order. Each entry names
// the one before it in the log (`prev`): one that does not follow the last entry applied makes
// the console catch up first, so it never applies the log out of order or with a hole.
const ACK_TIMEOUT = 8000;     // ms before an unanswered action is reported
const CATCH_UP_TIMEOUT = 30000;

// The size of the message Socket.IO sends for `emit(event, ...data)` with an acknowledgement, in
// UTF-8 bytes: engine.io counts characters over WebSocket and bytes over polling, and this is at
// least either.
export function messageSize(namespace, event, data) {
  return new TextEncoder().encode(JSON.stringify([event, ...data])).length + namespace.length + 24;
}

const kB = (bytes) => `${Math.ceil(bytes / 1024).toLocaleString("en")} kB`;

// A message longer than the server takes (`limit`, REQUEST_LIMIT in web/__init__.py) would make
// engine.io close the connection without a word, and every later call would fail. Such a message
// is not sent: its acknowledgement is called at once with { ok: false, error } saying why (as
// `(null, reply)` after `socket.timeout(ms)`, as the server's replies come), and the socket
// stays as it was. Every emit of the console's socket goes through here, the chair's too.
export function refuseOversized(socket, namespace, limit) {
  if (!limit) return;
  const emit = socket.emit.bind(socket);
  socket.emit = (event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args[args.length - 1] : null;
    const size = messageSize(namespace, event, ack ? args.slice(0, -1) : args);
    if (size <= limit) return emit(event, ...args);
    const timed = !!socket.flags && socket.flags.timeout !== undefined;
    socket.flags = {};  // what timeout() set was for this message
    const error = `Not sent: this is ${kB(size)}, and the server takes at most ${kB(limit)} in one message. Shorten it.`;
    if (ack && timed) ack(null, { ok: false, error });
    else if (ack) ack({ ok: false, error });
    return socket;
  };
}

// `hooks`: changed(live: bool, entry?), snapshot(), status(state, text), login(),
// presence(state), editing(data), editingDone(data), health(report), firstMark(name).
export function connect(config, model, hooks) {
  const E = config.events;
  let syncing = true;       // entries wait in `buffered` until a snapshot or a catch-up is in
  let buffered = [];
  let resyncing = false;    // a new snapshot is on its way: whatever else is in hand is dropped
  let snapshotted = false;  // this connection brought a snapshot (it comes before "connect")
  const socket = window.io(config.namespace, {
    transports: ["websocket", "polling"],
    // On a reconnect, tell the server we have state: it skips the snapshot and we catch up.
    auth: (cb) => cb(model.lastId === null ? {} : { after: model.lastId }),
  });
  refuseOversized(socket, config.namespace, config.max_message);

  function apply(entry, live) {
    if (resyncing) return;
    const where = model.follows(entry);
    if (where === "seen") return;
    if (where === "gap") { buffered.push(entry); catchUp(); return; }
    if (model.applyEntry(entry)) hooks.changed(live, entry);
    if (model.outOfStep) { model.outOfStep = false; resync(); }
  }

  function receive(entry) {
    if (syncing) buffered.push(entry); else apply(entry, true);
  }

  function flush() {
    const pending = buffered;
    buffered = [];
    syncing = false;
    for (const entry of pending) receive(entry);  // a gap among them buffers the rest again
  }

  function catchUp() {
    // The entries after the last one applied; those that arrive meanwhile wait their turn.
    syncing = true;
    socket.timeout(CATCH_UP_TIMEOUT).emit(E.catch_up, { after: model.lastId }, (err, reply) => {
      if (resyncing) return;
      if (err || reply.reload) { resync(); return; }
      for (const entry of reply.entries) apply(entry, false);
      if (!resyncing) flush();
    });
  }

  function resync() {
    // Too far behind, the log was reset, or out of step with it: start again from a snapshot.
    resyncing = true;
    buffered = [];
    model.lastId = null;
    socket.disconnect();
    socket.connect();
  }

  socket.on("connect", () => {
    hooks.firstMark("floor:connected");
    hooks.status("live", "live");
    if (snapshotted || model.lastId === null) return;  // the snapshot is (or will be) in
    catchUp();
  });
  socket.on("disconnect", () => {
    hooks.status("down", "reconnecting…");
    syncing = true;
    snapshotted = false;
  });
  socket.on("connect_error", (err) => {
    if (err && /log in/.test(err.message)) { hooks.login(); return; }
    hooks.status("down", "cannot connect: " + (err ? err.message : "unknown error") + " (retrying)");
    // A refusal from the server ends the client's own retries: try again ourselves.
    if (!socket.active) setTimeout(() => socket.connect(), 3000);
  });
  socket.on(E.snapshot, (snap) => {
    hooks.firstMark("floor:snapshot");
    resyncing = false;
    snapshotted = true;
    model.applySnapshot(snap);
    hooks.snapshot();
    flush();
  });
  socket.on(E.entry, receive);
  socket.on(E.presence, (state) => hooks.presence(state));
  socket.on(E.editing, (data) => hooks.editing(data));
  socket.on(E.editing_done, (data) => hooks.editingDone(data));
  socket.on(E.health, (report) => hooks.health(report));

  return {
    socket,
    connected: () => socket.connected,
    // One action; `reply(error text or null)` once the server answered (or did not).
    act(payload, reply) {
      socket.timeout(ACK_TIMEOUT).emit(E.act, payload, (err, answer) => {
        if (err) reply("No answer from the server: check the question before trying again.");
        else reply(answer.ok ? null : answer.error, answer);
      });
    },
    // The next part of one list (with `filters`: its next matches, searched on the server);
    // `done(reply or null)` (null: no answer, or refused).
    page(list, after, limit, done, filters = null) {
      const ask = filters ? { list, after, limit, filters } : { list, after, limit };
      socket.timeout(ACK_TIMEOUT).emit(E.page, ask, (err, reply) => {
        done(err || !reply || !reply.ok ? null : reply);
      });
    },
    // Where questions go in Incoming: `done({qid: arrival number} or null)`.
    places(qids, done) {
      socket.timeout(ACK_TIMEOUT).emit(E.places, { qids }, (err, reply) => {
        done(err || !reply || !reply.ok ? null : reply.places);
      });
    },
    // A question's public id: `done({id: public id or null (not chained yet)} or null)`.
    publicId(qid, done) {
      socket.timeout(ACK_TIMEOUT).emit(E.public_id, { qid }, (err, reply) => {
        done(err || !reply || !reply.ok ? null : reply);
      });
    },
    editing(qid) { socket.emit(E.editing, { qid }); },
    editingDone(qid) { socket.emit(E.editing_done, { qid }); },
  };
}
