import { useEffect } from "react";

/** Calls `reload` every `ms` while `active`: for server jobs without a socket of their own. */
export function usePolling(active: boolean, reload: () => void, ms = 2000): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ms);
    return () => clearInterval(timer);
  }, [active, reload, ms]);
}
