import { useCallback, useEffect, useEffectEvent, useState } from "react";

import { ApiError } from "../api/client";

export interface Resource<T> {
  /** The last loaded value; kept while a new key loads so lists do not flash empty. */
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Loads the current key again (after a create, say). */
  reload: () => void;
}

interface ResourceState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(0, error instanceof Error ? error.message : "Something went wrong.");
}

/**
 * Loads data from the API whenever `key` changes, aborting the previous request so a slow,
 * stale answer never overwrites a newer one. `key` must change exactly when `load` would
 * return something different (e.g. the page and search text of a list).
 */
export function useResource<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Resource<T> {
  const [state, setState] = useState<ResourceState<T>>({ data: undefined, error: undefined, loading: true });
  const [generation, setGeneration] = useState(0);
  const run = useEffectEvent(load);

  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    run(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ data: undefined, error: asApiError(error), loading: false });
      },
    );
    return () => controller.abort();
  }, [key, generation]);

  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { ...state, reload };
}
