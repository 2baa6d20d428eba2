import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";

import type { GroupFlowNode, GroupFrameNode } from "../model/groups";
import { useGroups } from "../stores/groupsStore";
import { useValidation } from "../stores/validationStore";

/** The shape leaving a folded group, and how many problems its layers have. */
function useGroupFigures(exit: string, members: readonly string[]): { shape: string | null; errors: number } {
  const shape = useValidation((s) => {
    const outputs = s.nodes[exit]?.outputs;
    return outputs ? (Object.values(outputs)[0] ?? null) : null;
  });
  const errors = useValidation((s) => members.reduce((sum, id) => sum + (s.nodes[id]?.errors.length ?? 0), 0));
  return { shape, errors };
}

/** A folded block of repeated layers (a ResNet stage, a block): one box that unfolds in place. */
function GroupNodeComponent({ data }: NodeProps<GroupFlowNode>) {
  const toggle = useGroups((s) => s.toggle);
  const { shape, errors } = useGroupFigures(data.exit, data.members);
  const what = data.blocks > 1 ? `${data.blocks} blocks · ${data.size} layers` : `${data.size} layers`;
  return (
    <div
      className={`group-node${errors ? " group-node--error" : ""}`}
      data-testid={`group-${data.group}`}
      role="group"
      aria-label={`Group ${data.group}, ${what}${errors ? `, ${errors} error${errors > 1 ? "s" : ""}` : ""}`}
    >
      <Handle type="target" id="in" position={Position.Top} isConnectable={false} />
      <div className="group-node__header">
        <span className="group-node__title">{data.group}</span>
        <button type="button" className="group-node__toggle nodrag" onClick={() => toggle(data.group)} aria-label={`Expand ${data.group}`}>
          ▸ Expand
        </button>
      </div>
      <div className="group-node__meta">{what}</div>
      <div className="group-node__shape" data-testid={`group-shape-${data.group}`}>
        → {shape ?? "?"}
      </div>
      {errors > 0 && <div className="group-node__errors">{errors} error{errors > 1 ? "s" : ""} inside</div>}
      <Handle type="source" id="out" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

/** The outline behind an unfolded group, with the button that folds it back. */
function GroupFrameComponent({ data }: NodeProps<GroupFrameNode>) {
  const toggle = useGroups((s) => s.toggle);
  return (
    // Nested frames start a few pixels apart: their buttons alternate sides so both stay readable.
    <div className={`group-frame${data.depth % 2 ? " group-frame--inner" : ""}`} style={{ width: data.width, height: data.height }} data-testid={`frame-${data.group}`}>
      <button type="button" className="group-frame__toggle nodrag" onClick={() => toggle(data.group)} aria-label={`Collapse ${data.group}`}>
        ▾ {data.group}
      </button>
    </div>
  );
}

export const GroupNode = memo(GroupNodeComponent);
export const GroupFrame = memo(GroupFrameComponent);
