// What a moderator's action does on the page: check it against the table, ask what it needs
// (a reason, what happens to the question on screen, a shorter text), send it, say the result.
// How to ask is the table's word for each action (`asks`), and which param each answer fills
// (`params`): no action is named here but the screen's safety valve, clear.
import { suggestItem } from "./chair_panel.js";
import { Selection, cluster, summary, targetsFor } from "./selection.js";
import {
  actsOnScreen, applies, choose, dropIndex, editCountText, keyMap, refusal, stepIndex,
  tooLongForBoard,
} from "./state.js";
import { OWN, asking, drivable, paramOf } from "./table.js";

const $ = (id) => document.getElementById(id);

// One asker for each way the table says an action's params are got (`asks`, listed in
// aggregator/core/actions.py): an action asking some other way is not offered until one is added here.
export const ASKERS = {
  "": (c, name, q) => c.simple(name, q),
  reason: (c, name, q) => c.openReasons(name, q),
  cluster: (c, name, q) => c.rejectLike(name, q),
  screen: (c, name, q) => c.askScreen(name, q, false),
  edit: (c, name, q) => c.startEdit(name, q),
  target: (c, name, q) => c.groupUnderTarget(name, q),
  choice: (c, name, q) => c.openChoice(name, q),
  text: (c, name, q) => c.openText(name, q),
};

// The lists a choice's options come from (a choice param's `of`), as the console holds them.
export const CHOICES = {
  agenda: {
    options: (c) => c.view.agenda.items.map((i) => ({ value: i.id, label: i.title })),
    suggest: (c, q) => suggestItem(q.text, c.view.agenda.items),
    none: "no item",
    empty: "The agenda has no items: add one under “Agenda” first.",
  },
  board_members: {
    options: (c) => ((c.config.chair || {}).board_members || []).map((m) => ({ value: m, label: m })),
    suggest: () => "",
    none: "anyone",
    empty: "No board members are set: list them in [chair] board_members.",
  },
};

function quote(text, max) {
  return "“" + text.slice(0, max) + (text.length > max ? "…”" : "”");
}

export class Commands {
  constructor(config, model, view, link) {
    this.config = config;
    this.table = config.actions;
    this.model = model;
    this.view = view;
    this.link = link;
    this.keys = keyMap(this.table);
    this.picks = new Selection();  // cards picked with x, for one action on all of them
    view.picks = this.picks;
    this.pending = null;     // the question a dialog is about
    this.afterClose = null;  // what to do once a dialog has closed (instead of refocusing)
    this.dialogs = { reasons: $("reasons"), screenAsk: $("screen-ask"), longAsk: $("long-ask"), help: $("help"), choiceAsk: $("choice-ask"), textAsk: $("text-ask") };
    this.drivable = (name) => drivable(this.table, name, ASKERS);
    this.wireDialogs();
  }

  // -- sending ---------------------------------------------------------------------------------

  send(action, q, params, done) {
    const qid = q ? q.id : null;
    if (!this.link.connected()) {
      this.view.warn("Not connected: wait until the console says live, then try again.", qid);
      return;
    }
    const payload = { action, qid: q ? q.id : "", version: q ? q.version : 0, params: params || {} };
    this.link.act(payload, (error) => {
      if (error) { this.view.warn(error, qid); return; }
      this.view.settled(qid);
      if (done) done();
    });
  }

  // One action on several questions in one step (the table's `many`): each with the version
  // this console saw; the server skips any changed meanwhile and says which.
  sendMany(action, qids, params) {
    const spec = this.table[action];
    const { targets, left } = targetsFor(this.table, this.config.states, action, qids, this.model);
    if (!targets.length) {
      this.view.warn(`${spec.label}: none of these can be changed (${left.map((l) => l.error).join("; ")}).`);
      return;
    }
    if (!this.link.connected()) {
      this.view.warn("Not connected: wait until the console says live, then try again.");
      return;
    }
    this.link.act({ action, targets, params }, (error, answer) => {
      if (error) { this.view.warn(error); return; }
      for (const qid of this.picks.clear()) this.repaint(qid);
      const more = answer.more ? ` ${answer.more} more like it remain: press ${spec.key} again.` : "";
      this.view.say(summary(spec.done, answer.ids.length, [...left, ...answer.skipped]) + more);
    });
  }

  // -- picking cards for one action on several (x picks or unpicks, X forgets every pick) ------

  repaint(qid) {
    this.model.touched.add(qid);
    this.view.schedule();
  }

  togglePick() {
    const q = this.view.current();
    if (!q) return;
    const now = this.picks.toggle(q.id);
    this.repaint(q.id);
    const n = this.picks.size;
    this.view.say(`${now ? "Picked" : "Unpicked"}: ${n} card${n === 1 ? "" : "s"} picked` +
      (n ? " (r rejects them all, X forgets them)" : ""));
  }

  clearPicks() {
    const was = this.picks.clear();
    for (const qid of was) this.repaint(qid);
    if (was.length) this.view.say("No cards picked.");
  }

  // Reject all like this: the question the card repeats (or the card) and every open question
  // triage suggested as its repeat, with one reason.
  rejectLike(name, q) {
    const { like, ids } = cluster(this.table, q, this.model);
    const head = this.model.get(like) || q;
    this.openReasons(name, q, { ids, like,
      text: `${quote(head.text, 80)} and ${ids.length - (ids.includes(like) ? 1 : 0)} suggested repeat(s) here, with any more the server knows of` });
  }

  simple(action, q, params) {
    const done = (this.table[action] && this.table[action].done) || action;
    this.send(action, q, params, () =>
      this.view.say(`${done[0].toUpperCase()}${done.slice(1)}: ${q.text.slice(0, 80)}`));
  }

  // -- the table's actions, by key or by button --------------------------------------------------

  byKey(key) {
    const names = this.keys.get(key);
    if (!names) return false;
    this.run(names);
    return true;
  }

  run(names) {
    if (names.includes("clear")) { this.clearScreen(); return; }
    const selected = this.view.current();
    const name = choose(this.table, names, selected);
    const spec = this.table[name];
    if (spec.asks === "reason" && spec.many && this.picks.size) {
      this.picks.prune(this.model);
      const ids = this.picks.ordered(this.model);
      this.openReasons(name, selected, { ids, text: `${ids.length} picked card${ids.length === 1 ? "" : "s"}` });
      return;
    }
    const q = actsOnScreen(spec) ? this.model.onScreen() : selected;
    if (!q) {
      if (actsOnScreen(spec)) this.view.warn("Nothing is on screen.");
      return;
    }
    if (!applies(this.table, name, q)) {
      this.view.warn(refusal(this.table, this.config.states, name, q), q.id);
      return;
    }
    if (!this.drivable(name)) {
      this.view.warn(`The console cannot run “${spec.label}” yet.`, q.id);
      return;
    }
    ASKERS[spec.asks](this, name, q);
  }

  // The console's own moves: up, down (the action asking for a place), target.
  own(name) {
    const q = this.view.current();
    if (!q) return;
    if (name === "target") { this.view.markTarget(q); return; }
    const action = asking(this.table, OWN[name].asks);
    if (!action) return;
    if (!applies(this.table, action, q)) {
      this.view.warn(refusal(this.table, this.config.states, action, q), q.id);
      return;
    }
    const index = stepIndex(this.model.queue, q.id, name === "up" ? -1 : 1);
    if (index !== null) this.place(action, q, index);
  }

  place(action, q, index) {
    this.simple(action, q, { [paramOf(this.table[action], "place").name]: index });
  }

  button(button) {
    const names = button.dataset.names.split(" ");
    if (names.length === 1 && !this.table[names[0]]) this.own(names[0]);
    else this.run(names);
  }

  drop(qid, overQid, lowerHalf) {
    const q = this.model.get(qid);
    if (!q) return;
    const action = asking(this.table, "place");
    const index = dropIndex(this.model.queue, qid, overQid, lowerHalf);
    if (action && index !== null) this.place(action, q, index);
  }

  clearScreen() {
    if (!this.model.screen) { this.view.warn("The screen is already clear."); return; }
    this.send("clear", null, {}, () => this.view.say("Screen cleared. The question went back to the front of the queue."));
    document.body.classList.add("flash-clear");
    setTimeout(() => document.body.classList.remove("flash-clear"), 800);
  }

  groupUnderTarget(name, q) {
    // A target marked with m wins; without one, g accepts the repeat triage suggested.
    const suggested = q.triage && q.triage.suggest ? q.triage.suggest.qid : null;
    const target = this.view.groupTarget || suggested;
    if (!target) { this.view.warn("Mark the main question with m first, then press g on the duplicate.", q.id); return; }
    if (target === q.id) { this.view.warn("That is the group target itself: select a duplicate.", q.id); return; }
    this.simple(name, q, { [paramOf(this.table[name], "question").name]: target });
  }

  // -- dialogs -----------------------------------------------------------------------------------

  // Reject: one key picks the reason; `many` ({ ids, text }, and `like` for a cluster) gives
  // the reason to several at once.
  openReasons(action, q, many = null) {
    this.pending = { action, q, ...(many || {}) };
    $("reasons-question").textContent = many ? many.text : quote(q.text, 120);
    this.dialogs.reasons.showModal();
    this.dialogs.reasons.querySelector("button").focus();
  }

  pickReason(i) {
    const reason = this.config.reject_reasons[i];
    const pending = this.pending;
    this.close(this.dialogs.reasons);
    if (!pending || !reason) return;
    const spec = this.table[pending.action];
    const params = { [paramOf(spec, "reason").name]: reason };
    if (pending.like) params[paramOf(spec, "question").name] = pending.like;
    if (pending.ids) this.sendMany(pending.action, pending.ids, params);
    else this.simple(pending.action, pending.q, params);
  }

  // Screen: warn first when the board cannot show the whole text legibly (offer to edit it),
  // then ask what happens to the question on screen now (default: answered).
  askScreen(action, q, longConfirmed) {
    const long = !longConfirmed && tooLongForBoard(q, this.config);
    if (long) {
      this.pending = { action, q };
      $("long-ask-length").textContent = `${long.length} characters`;
      $("long-ask-limit").textContent = `about ${long.limit}`;
      this.dialogs.longAsk.showModal();
      this.dialogs.longAsk.querySelector('[data-long="edit"]').focus();
      return;
    }
    const now = this.model.onScreen();
    if (!now) { this.screenThen(action, q, "answered"); return; }
    this.pending = { action, q };
    $("screen-ask-current").textContent = quote(now.text, 80);
    this.dialogs.screenAsk.showModal();
    this.dialogs.screenAsk.querySelector('[data-then="answered"]').focus();
  }

  pickLong(choice) {
    const pending = this.pending;
    if (!pending) return;
    const { action, q } = pending;
    const edit = asking(this.table, "edit");
    // Whatever comes next (the editor, the next question) starts once this dialog has closed.
    this.afterClose = choice === "edit" && edit ? () => this.startEdit(edit, this.model.get(q.id) || q)
      : () => this.askScreen(action, this.model.get(q.id) || q, true);
    this.close(this.dialogs.longAsk);
  }

  pickThen(then) {
    const pending = this.pending;
    this.close(this.dialogs.screenAsk);
    if (pending) this.screenThen(pending.action, pending.q, then);
  }

  screenThen(action, q, then) {
    this.simple(action, q, { [paramOf(this.table[action], "choice").name]: then });
  }

  // How many options the list `of` (a choice param's) has now: none, and its actions are not offered.
  optionCount(of) {
    const list = CHOICES[of];
    return list ? list.options(this).length : 0;
  }

  // A choice (an agenda item, a board member...): one key picks an option (0: none); the
  // option the list suggests for the question is marked, and so is its value now.
  openChoice(action, q) {
    const spec = this.table[action];
    const param = paramOf(spec, "choice");
    const list = CHOICES[param.of];
    const options = list ? list.options(this) : [];
    if (!options.length) { this.view.warn(list ? list.empty : `“${spec.label}” has nothing to choose from.`, q.id); return; }
    this.showChoice(q, action, param.name, spec.prompt || spec.label, options, list.none,
      list.suggest(this, q), (param.field && q[param.field]) || "");
  }

  showChoice(q, action, param, title, options, none, suggested, now) {
    this.pending = { q, action, param, values: [...options.slice(0, 9).map((o) => o.value)] };
    $("choice-ask-title").textContent = title;
    $("choice-ask-none").textContent = none;
    $("choice-ask-question").textContent = quote(q.text, 120);
    const choice = (n, value, label) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.value = value;
      const key = document.createElement("kbd");
      key.textContent = String(n);
      b.append(key, " " + label + (value && value === suggested ? " (suggested)" : "") + (value === now ? " (now)" : ""));
      li.append(b);
      return li;
    };
    const rows = options.slice(0, 9).map((o, i) => choice(i + 1, o.value, o.label));
    rows.push(choice(0, "", none));
    $("choice-list").replaceChildren(...rows);
    this.dialogs.choiceAsk.showModal();
    const focus = [...this.dialogs.choiceAsk.querySelectorAll("button[data-value]")]
      .find((b) => b.dataset.value === (suggested || now || options[0].value));
    (focus || this.dialogs.choiceAsk.querySelector("button[data-value]")).focus();
  }

  pick(value) {
    const pending = this.pending;
    this.close(this.dialogs.choiceAsk);
    if (pending) this.simple(pending.action, this.model.get(pending.q.id) || pending.q, { [pending.param]: value });
  }

  // A short text (an answer's note...): one line, Enter saves, Esc cancels; it starts from the
  // question's value of the field it sets.
  openText(action, q) {
    const spec = this.table[action];
    const param = paramOf(spec, "text");
    this.pending = { q, action, param: param.name };
    $("text-ask-title").textContent = spec.prompt || spec.label;
    $("text-ask-question").textContent = quote(q.text, 120);
    const area = $("text-ask-value");
    area.value = (param.field && q[param.field]) || "";
    // The server refuses a longer text in words (the row's limit, `limits`): the field stops there.
    const max = spec.limits[param.name];
    if (max) area.maxLength = max; else area.removeAttribute("maxlength");
    this.dialogs.textAsk.showModal();
    area.focus();
    area.select();
  }

  saveText() {
    const pending = this.pending;
    const value = $("text-ask-value").value.trim();
    this.close(this.dialogs.textAsk);
    if (pending) this.simple(pending.action, pending.q, { [pending.param]: value });
  }

  openHelp() { this.dialogs.help.showModal(); }

  close(dialog) { if (dialog.open) dialog.close(); }

  // Keys while a dialog is open; true when a dialog had them.
  dialogKey(ev) {
    const { reasons, screenAsk, longAsk, help, choiceAsk, textAsk } = this.dialogs;
    if (textAsk.open) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); this.saveText(); }
      return true;
    }
    if (choiceAsk.open) {
      const n = Number(ev.key);
      const values = this.pending ? this.pending.values : [];
      if (ev.key !== " " && Number.isInteger(n) && n >= 0 && n <= values.length) {
        ev.preventDefault();
        this.pick(n === 0 ? "" : values[n - 1]);
      }
      return true;
    }
    if (reasons.open) {
      const n = Number(ev.key);
      if (Number.isInteger(n) && n >= 1 && n <= this.config.reject_reasons.length) {
        ev.preventDefault();
        this.pickReason(n - 1);
      }
      return true;
    }
    if (screenAsk.open) {
      if (ev.key === "q") { ev.preventDefault(); this.pickThen("queue"); }
      else if (ev.key === "a") { ev.preventDefault(); this.pickThen("answered"); }
      return true;
    }
    if (longAsk.open) {
      if (ev.key === "e") { ev.preventDefault(); this.pickLong("edit"); }
      else if (ev.key === "s") { ev.preventDefault(); this.pickLong("screen"); }
      return true;
    }
    if (help.open) {
      if (ev.key === "?") { ev.preventDefault(); this.close(help); }
      return true;
    }
    return false;
  }

  wireDialogs() {
    const { reasons, screenAsk, longAsk, help, choiceAsk, textAsk } = this.dialogs;
    textAsk.addEventListener("click", (ev) => { if (ev.target.closest("[data-save]")) this.saveText(); });
    choiceAsk.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-value]");
      if (b) this.pick(b.dataset.value);
    });
    reasons.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-reason]");
      if (b) this.pickReason([...reasons.querySelectorAll("button[data-reason]")].indexOf(b));
    });
    screenAsk.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-then]");
      if (b) this.pickThen(b.dataset.then);
    });
    longAsk.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-long]");
      if (b) this.pickLong(b.dataset.long);
    });
    for (const dialog of [reasons, screenAsk, longAsk, help, choiceAsk, textAsk]) {
      dialog.addEventListener("click", (ev) => { if (ev.target.closest("[data-close]")) this.close(dialog); });
      dialog.addEventListener("close", () => {
        // The close event comes a moment after the dialog closed (Esc). If a key has opened a
        // dialog again meanwhile (Esc, then s at once), the question pending is that one's.
        if (Object.values(this.dialogs).some((d) => d.open)) { this.afterClose = null; return; }
        this.pending = null;
        const next = this.afterClose;
        this.afterClose = null;
        if (next) next(); else this.view.paintSelection(true);
      });
    }
  }

  // -- editing inline: the original stays visible below; Enter saves, Esc cancels --------------

  startEdit(action, q) {
    const { view } = this;
    if (!applies(this.table, action, q)) { view.warn(refusal(this.table, this.config.states, action, q), q.id); return; }
    const li = view.cards.get(q.id);
    if (!li || li.classList.contains("editing")) return;
    const others = view.locks.get(q.id);
    if (others && others.size && li._warnedLock !== q.version) {
      li._warnedLock = q.version;
      view.warn(`${[...others].join(", ")} ${others.size > 1 ? "are" : "is"} editing this question. Press e again to edit anyway.`, q.id);
      return;
    }
    const version = q.version;
    li.classList.add("editing");
    const text = li.querySelector(".text");
    const area = document.createElement("textarea");
    area.className = "edit";
    area.value = q.text;
    area.dir = "auto";
    area.rows = Math.min(8, Math.max(2, Math.ceil(q.text.length / 60)));
    area.setAttribute("aria-label", "Edit the text the board shows (Enter saves, Escape cancels)");
    const hint = document.createElement("p");
    hint.className = "hint";
    const long = tooLongForBoard(q, this.config);
    hint.textContent = "Enter saves · Esc cancels · the original stays as received" +
      (long ? ` · the board shows about ${long.limit} characters legibly` : "");
    // The server refuses a longer text (the row's limit, `limits`): say so before.
    const max = this.table[action].limits[paramOf(this.table[action], "text").name];
    area.maxLength = max;
    const count = document.createElement("p");
    count.className = "hint edit-count";
    count.id = "edit-count";  // one editor at a time: leaving it cancels
    area.setAttribute("aria-describedby", count.id);
    const counted = () => { count.textContent = editCountText(area.value.length, max); };
    counted();
    area.addEventListener("input", counted);
    text.hidden = true;
    text.after(area, hint, count);
    li.querySelector(".original").hidden = false;
    view.actions.hidden = true;
    area.focus();
    area.select();
    this.link.editing(q.id);
    const finish = (save) => {
      area.removeEventListener("keydown", onKey);
      area.removeEventListener("blur", onBlur);
      const value = area.value.trim();
      if (save && value && value !== q.text) {
        const param = paramOf(this.table[action], "text").name;
        this.send(action, { id: q.id, version, text: q.text }, { [param]: value }, () => view.say("Saved the new text."));
      }
      this.link.editingDone(q.id);
      area.removeEventListener("input", counted);
      area.remove();
      hint.remove();
      count.remove();
      text.hidden = false;
      li.classList.remove("editing");
      view.fillCard(li, this.model.get(q.id));
      view.paintSelection(true);
    };
    const onKey = (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); finish(true); }
      else if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); finish(false); }
    };
    // Leaving the editor by mouse or Tab keeps the draft out of the way: treat it as cancel.
    const onBlur = () => setTimeout(() => { if (li.classList.contains("editing")) finish(false); }, 0);
    area.addEventListener("keydown", onKey);
    area.addEventListener("blur", onBlur);
  }
}
