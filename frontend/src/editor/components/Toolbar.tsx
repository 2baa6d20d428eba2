import { ProjectCrumbs } from "../../components/ProjectCrumbs";
import { useReadableFit } from "../hooks/useReadableFit";
import { copySelectionToClipboard, pasteFromClipboard } from "../hooks/useShortcuts";
import { selectSelectionCount, useGraph } from "../stores/graphStore";
import { useUi } from "../stores/uiStore";
import { useVersions } from "../stores/versionsStore";

/** The editor's commands; each also has a keyboard shortcut (see the shortcuts dialog). */
export function Toolbar() {
  const graph = useVersions((s) => s.graph);
  const dirty = useGraph((s) => s.dirty);
  const canUndo = useGraph((s) => s.history.past.length > 0);
  const canRedo = useGraph((s) => s.history.future.length > 0);
  const selection = useGraph(selectSelectionCount);
  const undo = useGraph((s) => s.undo);
  const redo = useGraph((s) => s.redo);
  const removeSelection = useGraph((s) => s.removeSelection);
  const layout = useGraph((s) => s.layout);
  const panel = useUi((s) => s.panel);
  const setPanel = useUi((s) => s.setPanel);
  const openDialog = useUi((s) => s.openDialog);
  const openCode = useUi((s) => s.openCode);
  const fitView = useReadableFit();
  const layoutRunning = useGraph((s) => s.layoutRunning);

  return (
    <div className="editor-toolbar" role="toolbar" aria-label="Editor">
      <div className="editor-toolbar__crumbs">{graph && <ProjectCrumbs projectId={graph.project} />}</div>
      <h1 className="editor-toolbar__title">{graph?.name ?? "Graph"}</h1>
      <span className="editor-toolbar__state muted" data-testid="save-state">
        {dirty ? "Unsaved changes" : "All changes saved"}
      </span>
      <span className="editor-toolbar__spacer" />
      <div className="editor-toolbar__group">
        <button type="button" className="button button--small" onClick={undo} disabled={!canUndo} title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" className="button button--small" onClick={redo} disabled={!canRedo} title="Redo (Ctrl+Shift+Z)">
          Redo
        </button>
      </div>
      <div className="editor-toolbar__group">
        <button type="button" className="button button--small" disabled={selection === 0} onClick={() => copySelectionToClipboard()} title="Copy (Ctrl+C)">
          Copy
        </button>
        <button type="button" className="button button--small" onClick={pasteFromClipboard} title="Paste (Ctrl+V)">
          Paste
        </button>
        <button type="button" className="button button--small" disabled={selection === 0} onClick={removeSelection} title="Delete (Delete)">
          Delete
        </button>
      </div>
      <div className="editor-toolbar__group">
        <button
          type="button"
          className="button button--small"
          onClick={() => void layout().then(() => window.requestAnimationFrame(() => fitView({ duration: 200 })))}
          title="Automatic layout (L)"
          aria-busy={layoutRunning}
        >
          {layoutRunning ? "Laying out…" : "Auto layout"}
        </button>
        <button type="button" className="button button--small" onClick={() => fitView({ duration: 200 })} title="Fit view (F)">
          Fit view
        </button>
      </div>
      <div className="editor-toolbar__group">
        <button
          type="button"
          className="button button--small"
          aria-pressed={panel === "versions"}
          onClick={() => setPanel(panel === "versions" ? "properties" : "versions")}
        >
          History
        </button>
        <button type="button" className="button button--small" onClick={() => openCode(null)}>
          Code
        </button>
        <button type="button" className="button button--small" aria-label="Keyboard shortcuts" onClick={() => openDialog("shortcuts")}>
          ?
        </button>
        <button type="button" className="button button--primary button--small" onClick={() => openDialog("save")} title="Save (Ctrl+S)">
          Save
        </button>
      </div>
    </div>
  );
}
