import type { ReactNode } from "react";

import "./emptyState.css";

/** What an empty list means, and the next thing to do about it (a link or a button in `action`). */
export function EmptyState({ children, action }: { children: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty-state" role="status">
      <p className="empty-state__text">{children}</p>
      {action && <p className="empty-state__action">{action}</p>}
    </div>
  );
}
