import { memo, useState } from "react";

import type { EntryKind, PublishSource } from "../../api/market";
import { PublishDialog } from "./PublishDialog";

interface PublishButtonProps {
  source: PublishSource;
  kind: EntryKind;
  defaultTitle: string;
  label: string;
  /** The accessible name when the label alone is ambiguous (several on one page). */
  ariaLabel?: string;
  className?: string;
}

/** A button that opens the publish dialog for one trained model or graph version. */
export const PublishButton = memo(function PublishButton({ source, kind, defaultTitle, label, ariaLabel, className = "button" }: PublishButtonProps) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className={className} aria-label={ariaLabel} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && <PublishDialog source={source} kind={kind} defaultTitle={defaultTitle} onClose={() => setOpen(false)} />}
    </>
  );
});
