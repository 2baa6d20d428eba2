import { memo } from "react";

import { useFrozen } from "../stores/frozenStore";

/** A small padlock, drawn (an emoji needs a font the machine may not have). */
export const LockIcon = memo(function LockIcon() {
  return (
    <svg className="lock-icon" viewBox="0 0 16 16" width="11" height="11" aria-hidden="true" focusable="false">
      <rect x="3" y="7" width="10" height="8" rx="1.5" fill="currentColor" />
      <path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" strokeWidth="1.8" />
    </svg>
  );
});

/** Says above the canvas which layers a fine-tuning run keeps frozen; nothing when none are. */
export const FrozenBar = memo(function FrozenBar() {
  const count = useFrozen((s) => Object.keys(s.frozen).length);
  const source = useFrozen((s) => s.source);
  if (count === 0 || source === null) return null;
  return (
    <div className="frozen-bar" role="note" data-testid="frozen-bar">
      <LockIcon /> {source} fine-tunes this graph with {count} frozen layer{count === 1 ? "" : "s"}: their weights
      stay as they were loaded.
    </div>
  );
});
