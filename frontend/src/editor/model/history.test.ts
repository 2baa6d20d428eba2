import { describe, expect, it } from "vitest";

import { emptyHistory, record, redo, undo } from "./history";

describe("history", () => {
  it("undoes and redoes in order, and a new edit forgets the redo stack", () => {
    let history = record(record(emptyHistory<string>(), "a"), "b");
    const back = undo(history, "c");
    expect(back?.state).toBe("b");
    history = back!.history;
    const back2 = undo(history, "b");
    expect(back2?.state).toBe("a");
    const forward = redo(back2!.history, "a");
    expect(forward?.state).toBe("b");
    expect(record(forward!.history, "b").future).toEqual([]);
  });

  it("has nothing to undo or redo when empty", () => {
    expect(undo(emptyHistory<number>(), 1)).toBeNull();
    expect(redo(emptyHistory<number>(), 1)).toBeNull();
  });

  it("keeps at most `limit` steps", () => {
    let history = emptyHistory<number>();
    for (let i = 0; i < 10; i += 1) history = record(history, i, 3);
    expect(history.past).toEqual([7, 8, 9]);
  });
});
