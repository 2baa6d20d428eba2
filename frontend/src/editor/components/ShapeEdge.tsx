import { BaseEdge, EdgeLabelRenderer, type EdgeProps, getBezierPath } from "@xyflow/react";
import { memo } from "react";

import type { ShapeFlowEdge } from "../model/flow";
import { useValidation } from "../stores/validationStore";

/** An edge labelled with the shape of the tensor it carries (from the latest validation). */
function ShapeEdgeComponent(props: EdgeProps<ShapeFlowEdge>) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, selected } = props;
  const shape = useValidation((s) => s.edgeShapes[id]);
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} className={selected ? "shape-edge shape-edge--selected" : "shape-edge"} />
      {shape && (
        <EdgeLabelRenderer>
          <div
            className="edge-shape nopan"
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            data-testid={`edge-shape-${props.source}-${props.target}`}
          >
            {shape}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const ShapeEdge = memo(ShapeEdgeComponent);
