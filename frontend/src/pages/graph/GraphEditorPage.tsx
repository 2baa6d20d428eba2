import { useEffect, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";

import { ApiError } from "../../api/client";
import { getGraph } from "../../api/graphs";
import { getRun } from "../../api/runs";
import { getVersion, listVersions } from "../../api/versions";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GraphEditor } from "../../editor/GraphEditor";
import { FrozenBar } from "../../editor/components/FrozenBar";
import { type GraphDocument, emptyDocument } from "../../editor/model/document";
import { type Draft, clearDraft, readDraft, sameDocument } from "../../editor/model/draft";
import { needsLayout } from "../../editor/model/layout";
import { freezeListOf, useFrozen } from "../../editor/stores/frozenStore";
import { resetGraphStore, useGraph } from "../../editor/stores/graphStore";
import { useLayers } from "../../editor/stores/layersStore";
import { useUi } from "../../editor/stores/uiStore";
import { useValidation } from "../../editor/stores/validationStore";
import { useVersions } from "../../editor/stores/versionsStore";
import { RunOverlayBar } from "./RunOverlayBar";

type LoadState =
  | { status: "loading" }
  | { status: "error"; error: ApiError }
  | { status: "ready"; saved: GraphDocument; draft: Draft | null; layoutOnOpen: boolean };

/**
 * Loads a graph into the editor: the layer registry, the graph, its newest version, and any
 * unsaved draft left in this browser (which wins over the saved version, with a way to discard it).
 * With `?run=<id>`, the version that run trained instead, decorated with the run's figures; with
 * `?version=<id>`, that saved version (a pruned model's, say). A document whose nodes were never
 * placed (a template, an import) is laid out by the canvas once it has measured its nodes.
 */
export function GraphEditorPage() {
  const { projectId = "", graphId = "" } = useParams();
  const [search] = useSearchParams();
  const id = Number(graphId);
  const runParam = search.get("run");
  const runId = runParam !== null && /^\d+$/.test(runParam) ? Number(runParam) : null;
  const versionParam = search.get("version");
  const versionId = versionParam !== null && /^\d+$/.test(versionParam) ? Number(versionParam) : null;
  const [state, setState] = useState<LoadState>({ status: "loading" });

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    setState({ status: "loading" });
    resetGraphStore();
    useValidation.getState().reset();
    useVersions.getState().reset();
    useUi.getState().reset();
    useFrozen.getState().reset();
    const load = async () => {
      const [graph] = await Promise.all([getGraph(id, signal), useLayers.getState().load()]);
      const layers = useLayers.getState();
      if (layers.status === "error") throw new ApiError(0, layers.error ?? "Could not load the layers.");
      const page = await listVersions(id, signal);
      if (runId !== null || versionId !== null) {
        let wanted = versionId;
        if (runId !== null) {
          const run = await getRun(runId, signal);
          if (run.graph !== undefined && run.graph !== id) throw new ApiError(404, `Run ${runId} trained another graph.`);
          wanted = run.graph_version;
          useFrozen.getState().setFrozen(freezeListOf(run.config), `Run ${runId}`);
        }
        const trained = await getVersion(id, wanted!, signal);
        if (signal.aborted) return;
        useVersions.setState({ graph, versions: page.results, status: "ready", baseVersionId: trained.id });
        useGraph.getState().load(id, trained.document);
        setState({ status: "ready", saved: trained.document, draft: null, layoutOnOpen: needsLayout(trained.document.nodes) });
        return;
      }
      const latest = page.results[0];
      const saved = latest ? (await getVersion(id, latest.id, signal)).document : emptyDocument();
      if (signal.aborted) return;
      useVersions.setState({ graph, versions: page.results, status: "ready", baseVersionId: latest?.id ?? null });
      const draft = readDraft(id);
      if (draft && !sameDocument(draft.document, saved)) {
        useGraph.getState().load(id, draft.document, { dirty: true });
        setState({ status: "ready", saved, draft, layoutOnOpen: needsLayout(draft.document.nodes) });
      } else {
        if (draft) clearDraft(id);
        useGraph.getState().load(id, saved);
        setState({ status: "ready", saved, draft: null, layoutOnOpen: needsLayout(saved.nodes) });
      }
    };
    load().catch((error: unknown) => {
      if (signal.aborted) return;
      setState({ status: "error", error: error instanceof ApiError ? error : new ApiError(0, "Could not open the graph.") });
    });
    return () => controller.abort();
  }, [id, runId, versionId]);

  if (state.status === "error") {
    return (
      <div className="page page--narrow page--centered">
        <h1>{state.error.status === 404 ? "Graph not found" : "Could not open the graph"}</h1>
        {state.error.status !== 404 && <ErrorAlert message={state.error.message} />}
        <Link to={`/projects/${encodeURIComponent(projectId)}`}>Back to the project</Link>
      </div>
    );
  }
  if (state.status === "loading") {
    return (
      <p className="page muted" role="status">
        Loading graph…
      </p>
    );
  }
  const discard = () => {
    clearDraft(id);
    useGraph.getState().load(id, state.saved);
    setState({ ...state, draft: null });
  };
  return (
    <div className="page--full">
      <GraphEditor
        key={`${id}:${runId ?? ""}`}
        graphId={id}
        layoutOnOpen={state.layoutOnOpen}
        runOverlay={
          runId !== null ? (
            <>
              <RunOverlayBar runId={runId} projectId={projectId} />
              <FrozenBar />
            </>
          ) : undefined
        }
        draftNotice={state.draft && <DraftNotice draft={state.draft} onDiscard={discard} onKeep={() => setState({ ...state, draft: null })} />}
      />
    </div>
  );
}

function DraftNotice({ draft, onDiscard, onKeep }: { draft: Draft; onDiscard: () => void; onKeep: () => void }) {
  const when = draft.savedAt ? new Date(draft.savedAt).toLocaleString() : "an earlier visit";
  return (
    <div className="editor__draft" role="status">
      Restored your unsaved changes from {when}.
      <button type="button" className="button button--small" onClick={onKeep}>
        Keep them
      </button>
      <button type="button" className="button button--small" onClick={onDiscard}>
        Discard them
      </button>
    </div>
  );
}
