import { useResource } from "../../hooks/useResource";
import { getVersion } from "../../api/versions";
import { ErrorAlert } from "../../components/ErrorAlert";
import type { GraphDocument } from "../model/document";
import { diffDocuments } from "../model/diff";
import { useGraph } from "../stores/graphStore";
import { useUi } from "../stores/uiStore";
import { useVersions } from "../stores/versionsStore";
import { Dialog } from "./Dialog";
import { DiffView } from "./DiffView";

type Side = number | "current";

/** What changed between two versions (or a version and the canvas), computed in the browser. */
export function CompareDialog() {
  const compare = useUi((s) => s.compare);
  const close = useUi((s) => s.closeDialog);
  const graph = useVersions((s) => s.graph);
  const versions = useVersions((s) => s.versions);
  const [before, after] = compare ?? ["current", "current"];
  const name = (side: Side) =>
    side === "current" ? "the canvas" : `version ${versions.find((v) => v.id === side)?.number ?? side}`;
  const documents = useResource(`${graph?.id}:${before}:${after}`, async (signal) => {
    const load = async (side: Side): Promise<GraphDocument> =>
      side === "current" || !graph ? useGraph.getState().toDocument() : (await getVersion(graph.id, side, signal)).document;
    return Promise.all([load(before), load(after)]);
  });

  return (
    <Dialog title={`Compare ${name(before)} with ${name(after)}`} onClose={close} wide>
      <ErrorAlert message={documents.error?.message} />
      {documents.loading && !documents.data && <p className="muted">Loading…</p>}
      {documents.data && <DiffView diff={diffDocuments(documents.data[0], documents.data[1])} />}
    </Dialog>
  );
}
