import { memo } from "react";

import { type MarketImportJob, describeProgress } from "./importJob";

/** A running import: a progress bar and what the worker is doing. */
export const ImportProgress = memo(function ImportProgress({ job }: { job: MarketImportJob | null }) {
  if (job === null || (job.status !== "queued" && job.status !== "running")) return null;
  const text = describeProgress(job);
  return (
    <div className="market-import__progress" aria-live="polite">
      <progress max={1} value={job.progress} aria-label={`Importing ${job.filename}`} />
      <span className="muted"> {text}</span>
    </div>
  );
});
