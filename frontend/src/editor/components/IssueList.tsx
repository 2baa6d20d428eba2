import { memo } from "react";

import type { Issue } from "../../api/validation";
import { useGraph } from "../stores/graphStore";

/** Words for a server-suggested fix, or null when the canvas cannot apply it. */
export function fixLabel(issue: Issue): string | null {
  const fix = issue.fix;
  if (!fix) return null;
  if (typeof fix.insert === "string") return `Insert ${fix.insert}`;
  if (typeof fix.type === "string") return `Change type to ${fix.type}`;
  return null;
}

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
                aria-label={`Fix: ${label.toLowerCase()}${issue.node_id ? ` before ${issue.node_id}` : ""}`}
                onClick={(event) => {
                  event.stopPropagation();
                  applyFix(issue);
                }}
              >
                Fix: {label.toLowerCase()}
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export const IssueList = memo(IssueListComponent);
