import { useEffect, useEffectEvent, useState } from "react";

export type SocketState = "connecting" | "open" | "reconnecting" | "closed" | "refused";

/** Close codes after which trying again cannot help (not a member, too chatty). */
const FINAL_CODES = new Set([4403, 4429]);
const MAX_DELAY_MS = 10_000;

export function socketUrl(path: string, location: Pick<Location, "protocol" | "host"> = window.location): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

/** Backoff before reconnect attempt `attempt` (1, 2, …): 0.5 s doubling, at most 10 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(MAX_DELAY_MS, 500 * 2 ** Math.max(0, attempt - 1));
}

/**
 * A JSON WebSocket to `path` that reconnects after a drop (backoff), until `enabled` turns
 * false or the component unmounts. `onOpen` runs on every (re)connect: the place to read what
 * was missed from the REST history.
 */
export function useLiveSocket(
  path: string | null,
  onMessage: (message: Record<string, unknown>) => void,
  onOpen?: (reconnected: boolean) => void,
): SocketState {
  const [state, setState] = useState<SocketState>("connecting");
  const handleMessage = useEffectEvent(onMessage);
  const handleOpen = useEffectEvent((reconnected: boolean) => onOpen?.(reconnected));

  useEffect(() => {
    if (path === null || typeof WebSocket === "undefined") {
      setState("closed");
      return;
    }
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let stopped = false;

    const connect = () => {
      socket = new WebSocket(socketUrl(path));
      socket.onopen = () => {
        setState("open");
        handleOpen(attempt > 0);
        attempt = 0;
      };
      socket.onmessage = (message: MessageEvent<string>) => {
        try {
          const parsed = JSON.parse(message.data) as unknown;
          if (parsed !== null && typeof parsed === "object") handleMessage(parsed as Record<string, unknown>);
        } catch {
          // not JSON: ignore
        }
      };
      socket.onclose = (event) => {
        if (stopped) return;
        if (FINAL_CODES.has(event.code)) {
          setState("refused");
          return;
        }
        attempt += 1;
        setState("reconnecting");
        timer = setTimeout(connect, reconnectDelay(attempt));
      };
    };
    setState("connecting");
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [path]);

  return state;
}
