import { getNodesBounds, useReactFlow, useStoreApi } from "@xyflow/react";
import { useCallback } from "react";

import { readableViewport } from "../model/viewport";

/** Fit view at a readable zoom (model/viewport.ts), over what the canvas shows. */
export function useReadableFit(): (options?: { duration?: number }) => void {
  const { getNodes, setViewport } = useReactFlow();
  const store = useStoreApi();
  return useCallback(
    (options = {}) => {
      const nodes = getNodes();
      if (nodes.length === 0) return;
      const { width, height } = store.getState();
      if (!width || !height) return;
      void setViewport(readableViewport(getNodesBounds(nodes), width, height), options);
    },
    [getNodes, setViewport, store],
  );
}
