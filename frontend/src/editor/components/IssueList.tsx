import { memo } from "react";

import type { Issue } from "../../api/validation";
import { fixLabel } from "../model/fixes";
import { useGraph } from "../stores/graphStore";

interface IssueListProps {
  errors: readonly Issue[];
  warnings: readonly Issue[];
  /** Compact: inside a node on the canvas. */
  compact?: boolean;
}

/** Errors and warnings with their messages, each with a one-click fix where the server offers one. */
function IssueListComponent({ errors, warnings, compact = false }: IssueListProps) {
  const applyFix = useGraph((s) => s.applyFix);
  if (errors.length === 0 && warnings.length === 0) return null;
  const items = [...errors.map((i) => ({ issue: i, level: "error" })), ...warnings.map((i) => ({ issue: i, level: "warning" }))];
  return (
    <ul className={`issues${compact ? " issues--compact" : ""}`} aria-label="Problems">
      {items.map(({ issue, level }, index) => {
        const label = fixLabel(issue);
        return (
          <li key={`${issue.code}:${issue.port ?? ""}:${issue.param ?? ""}:${index}`} className={`issue issue--${level}`} data-testid={`issue-${issue.code}`}>
            <span className="issue__level">{level === "error" ? "Error" : "Warning"}:</span> {issue.message}
            {label && (
              <button
                type="button"
                className="button button--small issue__fix nodrag"
                data-testid="issue-fix"
                aria-label={`Fix: ${label.toLowerCase()}${issue.node_id ? ` ${issue.fix?.insert ? "before" : "on"} ${issue.node_id}` : ""}`}
                title="One click, one undoable edit (Ctrl+Z undoes it)"
                onClick={(event) => {
                  event.stopPropagation();
                  applyFix(issue);
                }}
              >
                {label}
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export const IssueList = memo(IssueListComponent);
