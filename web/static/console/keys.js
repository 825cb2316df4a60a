// The keyboard. Moving around is the console's own; every action key comes from the table
// (commands.byKey), so an action added to the server gets its key here without a change.

function typing(target) {
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function installKeys(view, commands) {
  const search = document.getElementById("search");
  const moves = {
    j: () => view.move(1), ArrowDown: () => view.move(1),
    k: () => view.move(-1), ArrowUp: () => view.move(-1),
    h: () => view.moveColumn(-1), ArrowLeft: () => view.moveColumn(-1),
    l: () => view.moveColumn(1), ArrowRight: () => view.moveColumn(1),
    Home: () => view.goEnd(false), End: () => view.goEnd(true),
    1: () => view.goColumn("incoming"), 2: () => view.goColumn("queue"),
    3: () => view.goColumn("screen"), 4: () => view.goColumn("aside"),
    m: () => commands.own("target"),
    x: () => commands.togglePick(), X: () => commands.clearPicks(),
    "/": () => search.focus(),
    "?": () => commands.openHelp(),
    Escape: () => {
      if (view.menuFor) { view.toggleMenu(false); return; }
      const q = view.model.get(view.groupTarget);
      if (view.groupTarget) view.markTarget(q || { id: view.groupTarget, text: "" });
    },
  };

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey) return;
    if (commands.dialogKey(ev)) return;
    if (typing(ev.target)) {
      if (ev.target === search && (ev.key === "Escape" || ev.key === "Enter")) {
        ev.preventDefault();
        search.blur();
        view.goColumn(view.selected.col);
      }
      return;
    }
    if (ev.altKey) {
      if (ev.key === "ArrowUp") { ev.preventDefault(); commands.own("up"); }
      else if (ev.key === "ArrowDown") { ev.preventDefault(); commands.own("down"); }
      return;
    }
    const move = moves[ev.key];
    if (move) {
      // Buttons and links keep their own Enter/Space; letters work everywhere else.
      ev.preventDefault();
      move();
      return;
    }
    if (commands.keys.has(ev.key)) {
      ev.preventDefault();
      commands.byKey(ev.key);
    }
  });
}
