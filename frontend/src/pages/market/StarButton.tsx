import { memo, useState } from "react";

import { ApiError } from "../../api/client";
import { type MarketEntry, setStar } from "../../api/market";

/** Stars or unstars an entry; a refusal is said next to the button. */
export const StarButton = memo(function StarButton({ entry, onChanged }: { entry: MarketEntry; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      await setStar(entry.id, !entry.starred);
      onChanged();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Could not change the star.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="button" aria-pressed={entry.starred} disabled={busy} onClick={() => void toggle()}>
        {entry.starred ? "★ Unstar" : "☆ Star"}
      </button>
      {error && (
        <span className="field__errors" role="alert">
          {error}
        </span>
      )}
    </>
  );
});
