import { ReactFlowProvider } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { type ReactNode, useEffect } from "react";

import { Canvas } from "./components/Canvas";
import { CodeDialog } from "./components/CodeDialog";
import { CompareDialog } from "./components/CompareDialog";
import { Palette } from "./components/Palette";
import { PropertiesPanel } from "./components/PropertiesPanel";
import { SaveDialog } from "./components/SaveDialog";
import { ShortcutsDialog } from "./components/ShortcutsDialog";
import { StatusBar } from "./components/StatusBar";
import { Toolbar } from "./components/Toolbar";
import { VersionsPanel } from "./components/VersionsPanel";
import { useDraft } from "./hooks/useDraft";
import { useLiveValidation } from "./hooks/useLiveValidation";
import { useShortcuts } from "./hooks/useShortcuts";
import { useUi } from "./stores/uiStore";
import "./editor.css";

interface GraphEditorProps {
  graphId: number;
  /** Shown above the canvas when unsaved work was brought back from a previous visit. */
  draftNotice?: ReactNode;
  /** Lay the graph out once it has rendered (a template or import: nodes without positions). */
  layoutOnOpen?: boolean;
  /** Shown above the canvas while a run's figures decorate it; unsaved drafts are then left alone. */
  runOverlay?: ReactNode;
}

/** The whole editor: palette, canvas, side panel, status bar and dialogs. The stores are loaded. */
export function GraphEditor(props: GraphEditorProps) {
  return (
    <ReactFlowProvider>
      <EditorLayout {...props} />
    </ReactFlowProvider>
  );
}

function EditorLayout({ graphId, draftNotice, layoutOnOpen = false, runOverlay }: GraphEditorProps) {
  const panel = useUi((s) => s.panel);
  const setPanel = useUi((s) => s.setPanel);
  const dialog = useUi((s) => s.dialog);
  useLiveValidation();
  // The run's version is shown, not the newest: it must not replace (or clear) the draft kept for this graph.
  useDraft(runOverlay ? null : graphId);
  useShortcuts();

  return (
    <div className="editor" data-testid="graph-editor">
      <Toolbar />
      {draftNotice}
      {runOverlay}
      <div className="editor__body">
        <Palette />
        <Canvas layoutOnOpen={layoutOnOpen} />
        <aside className="side-panel" aria-label="Side panel">
          <div className="side-panel__tabs" role="tablist" aria-label="Side panel">
            <button type="button" role="tab" aria-selected={panel === "properties"} onClick={() => setPanel("properties")}>
              Properties
            </button>
            <button type="button" role="tab" aria-selected={panel === "versions"} onClick={() => setPanel("versions")}>
              History
            </button>
          </div>
          {panel === "properties" ? <PropertiesPanel /> : <VersionsPanel />}
        </aside>
      </div>
      <StatusBar />
      <Notice />
      {dialog === "save" && <SaveDialog />}
      {dialog === "code" && <CodeDialog />}
      {dialog === "compare" && <CompareDialog />}
      {dialog === "shortcuts" && <ShortcutsDialog />}
    </div>
  );
}

/** Short confirmations and refusals ("Copied 2 layers", "Input in of conv2d_1 is already connected"). */
function Notice() {
  const notice = useUi((s) => s.notice);
  const notify = useUi((s) => s.notify);
  useEffect(() => {
    if (!notice) return;
    const timer = window.setTimeout(() => notify(null), 4000);
    return () => window.clearTimeout(timer);
  }, [notice, notify]);
  return (
    <div className="editor__notice" role="status" aria-live="polite">
      {notice}
    </div>
  );
}
