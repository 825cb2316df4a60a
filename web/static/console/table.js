// The action table as the console reads it (config.actions, from aggregator/core/actions.py): which
// actions the console can run, the action bar's buttons in their order, the keys' help, the
// param a dialog fills, the words for what was done. Nothing here names an action: a row the
// server adds gets its button, its key, its help and its dialog from what the row says.
import { keyMap } from "./state.js";

// Moves of the console's own, around the table's actions. Each drives the action that asks
// that way (up and down: the one asking for a place in the queue; the target: the one asking
// for a target) and sits in the bar where that action does.
export const OWN = {
  up: { label: "Move up", key: "Alt+ArrowUp", asks: "place" },
  down: { label: "Move down", key: "Alt+ArrowDown", asks: "place" },
  target: { label: "Group target", key: "m", asks: "target" },
};

// The first action of the table that asks for its params this way (null: none does).
export function asking(table, asks) {
  return Object.keys(table).find((name) => table[name].asks === asks) || null;
}

// The param of `spec` of this kind ({ name, kind, options, of, field }; its limit, if it has
// one, is `spec.limits[name]`).
export function paramOf(spec, kind) {
  return spec.params.find((p) => p.kind === kind);
}

// Whether the console can run `name`: it has an asker for the way the row asks (`askers`, the
// kinds commands.js knows). An action asking some other way is not offered until it learns it.
export function drivable(table, name, askers) {
  const spec = table[name];
  return !!spec && Object.hasOwn(askers, spec.asks);
}

// The action bar: one button per key of the table (actions sharing a key share a button) whose
// actions the console can run, and the console's own moves; in the table's order.
export function barGroups(table, canRun) {
  const own = [];
  for (const [name, move] of Object.entries(OWN)) {
    const drives = asking(table, move.asks);
    if (drives) own.push({ names: [name], key: move.key, order: table[drives].order });
  }
  const groups = [];
  for (const [key, names] of keyMap(table)) {
    const usable = names.filter(canRun);
    if (usable.length) groups.push({ names: usable, key, order: Math.min(...usable.map((n) => table[n].order)) });
  }
  // A move of the console's own goes before the action of the same place (the target, then
  // the group); the sort is stable.
  return [...own, ...groups].sort((a, b) => a.order - b.order);
}

// The keys' help: one row per key, the labels of the actions it runs and their hints.
export function helpRows(table, canRun) {
  return barGroups(table, canRun).filter((g) => !Object.hasOwn(OWN, g.names[0])).map(({ names, key }) => {
    const hints = names.map((n) => table[n].hint).filter(Boolean);
    return { key, text: names.map((n) => table[n].label).join(" / ") + (hints.length ? ` (${hints.join("; ")})` : "") };
  });
}

// What a log entry type did, in the server's words: an action's, or another entry's.
export function doneWords(config, type) {
  const spec = config.actions[type];
  return (spec && spec.done) || (config.entry_words || {})[type] || type;
}

// -- what the selected card offers ---------------------------------------------------------------

// Who a mute names, as the server's Question.author_key: "platform:handle" (the name where a
// platform gives no handle); "" when the post has no author to mute.
export function authorKey(q) {
  const who = (q && (q.author_handle || q.author_name)) || "";
  return who ? `${q.platform}:${who}` : "";
}

// What the console knows around its cards, in one pass over the questions it holds (redone only
// when they change): the authors it knows to be muted, those with a card held for the mute (the
// server's reason, config.muted_reason: a mute holds the card it was made on and every later
// post, and an unmute brings them all back, so a muted author has a card there unless a
// moderator brought it back by hand; then "Unmute" is still the key's), and the questions
// triage suggested another repeats.
export function surroundings(questions, reason) {
  const muted = new Set();
  const repeated = new Set();
  for (const q of questions) {
    if (q.state === "held" && q.aside_reason === reason) {
      const key = authorKey(q);
      if (key) muted.add(key);
    }
    const suggest = q.triage && q.triage.suggest;
    if (suggest && suggest.qid) repeated.add(suggest.qid);
  }
  return { muted, repeated };
}

// The conditions a row may name (its `when`; WHEN in aggregator/core/actions.py) beyond its
// states, each a test of the question and what the console knows `around` it (surroundings).
export const WHEN = {
  "": () => true,
  muted: (q, around) => around.muted.has(authorKey(q)),
  not_muted: (q, around) => !!authorKey(q) && !around.muted.has(authorKey(q)),
  suggested: (q) => !!(q.triage && q.triage.suggest),
  cluster: (q, around) => !!(q.triage && q.triage.suggest) || around.repeated.has(q.id),
};

// Whether the selected card offers `name`: `can` (state.js `offered`: the table's states, the
// undo stack, the console's own moves) says it applies, a choice has a list with options to
// choose from (`around.options(of)`: how many), and its condition holds (unless `checkWhen` is
// false: the card's menu is closed, and the conditions wait until it opens).
export function offeredOn(table, name, q, can, around, checkWhen = true) {
  if (!can[name]) return false;
  const spec = table[name];
  if (!spec) return true;  // the console's own moves: `can` says all
  if (!spec.params.every((p) => p.kind !== "choice" || !p.of || around.options(p.of) > 0)) return false;
  if (!checkWhen) return true;
  const test = WHEN[spec.when || ""];
  return !!test && test(q, around);
}

// The selected card's actions: the bar's groups (barGroups) that offer something on `q`, each
// with the name it runs now; the few the table marks `primary` go on the card, the rest in its
// "More" menu, both in the table's order. While the menu is closed (`menuOpen` false) the rest
// are not checked against their conditions: those may need a pass over every question held,
// which a moderator walking the cards need not pay for.
export function cardActions(table, groups, q, can, around, menuOpen = true) {
  const main = [];
  const more = [];
  const primary = (name) => !!(table[name] && table[name].primary);
  for (const group of groups) {
    const name = group.names.find((n) => offeredOn(table, n, q, can, around, menuOpen || primary(n)));
    if (!name) continue;
    (primary(name) ? main : more).push({ ...group, name });
  }
  return { main, more };
}
