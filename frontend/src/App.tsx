import { Suspense, lazy, useEffect } from "react";
import { Navigate, Route, Routes } from "react-router-dom";

import { AppLayout } from "./components/AppLayout";
import { GuestOnly, RequireAuth } from "./components/RouteGuards";
import { NotFoundPage } from "./pages/NotFoundPage";
import { AuthPage } from "./pages/auth/AuthPage";
import { ProjectDetailPage } from "./pages/project/ProjectDetailPage";
import { ProjectsPage } from "./pages/projects/ProjectsPage";
import { DatasetsPage } from "./pages/datasets/DatasetsPage";
import { MarketPage } from "./pages/market/MarketPage";
import { ModelPage } from "./pages/models/ModelPage";
import { ModelsPage } from "./pages/models/ModelsPage";
import { RunPage } from "./pages/run/RunPage";
import { TrainPage } from "./pages/train/TrainPage";
import { useSession } from "./stores/session";

// The editor (React Flow, dagre) is most of the code: load it only when a graph is opened.
const GraphEditorPage = lazy(() =>
  import("./pages/graph/GraphEditorPage").then((module) => ({ default: module.GraphEditorPage })),
);
// A market entry draws its graph with the editor's nodes: loaded the same way.
const MarketEntryPage = lazy(() =>
  import("./pages/market/MarketEntryPage").then((module) => ({ default: module.MarketEntryPage })),
);

/** The route table. Rendered inside a router: BrowserRouter in main.tsx, MemoryRouter in tests. */
export function App() {
  const loadSession = useSession((state) => state.load);

  useEffect(() => {
    if (useSession.getState().status === "unknown") void loadSession();
  }, [loadSession]);

  return (
    <Routes>
      <Route element={<AppLayout />}>
        <Route element={<GuestOnly />}>
          <Route path="/sign-in" element={<AuthPage key="sign-in" mode="sign-in" />} />
          <Route path="/sign-up" element={<AuthPage key="sign-up" mode="sign-up" />} />
        </Route>
        <Route element={<RequireAuth />}>
          <Route path="/" element={<Navigate to="/projects" replace />} />
          <Route path="/projects" element={<ProjectsPage />} />
          <Route path="/projects/:projectId" element={<ProjectDetailPage />} />
          <Route path="/projects/:projectId/datasets" element={<DatasetsPage />} />
          <Route path="/projects/:projectId/train" element={<TrainPage />} />
          <Route path="/projects/:projectId/runs/:runId" element={<RunPage />} />
          <Route path="/projects/:projectId/models" element={<ModelsPage />} />
          <Route path="/projects/:projectId/models/:modelId" element={<ModelPage />} />
          <Route path="/market" element={<MarketPage />} />
          <Route
            path="/market/:entryId"
            element={
              <Suspense fallback={<p className="page muted">Loading the entry…</p>}>
                <MarketEntryPage />
              </Suspense>
            }
          />
          <Route
            path="/projects/:projectId/graphs/:graphId"
            element={
              <Suspense fallback={<p className="page muted">Loading the editor…</p>}>
                <GraphEditorPage />
              </Suspense>
            }
          />
        </Route>
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
