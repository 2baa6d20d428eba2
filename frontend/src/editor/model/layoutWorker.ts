/// <reference lib="webworker" />
/** The layout off the main thread: a request of boxes and links in, positions out. */
import { type LayoutBox, type LayoutLink, layoutBoxes } from "./layout";

export interface LayoutRequest {
  id: number;
  boxes: LayoutBox[];
  links: LayoutLink[];
}

export interface LayoutResponse {
  id: number;
  positions: [string, { x: number; y: number }][];
}

self.onmessage = (event: MessageEvent<LayoutRequest>) => {
  const { id, boxes, links } = event.data;
  const response: LayoutResponse = { id, positions: [...layoutBoxes(boxes, links)] };
  self.postMessage(response);
};
