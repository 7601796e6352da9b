import type { Diagnosis, NodeState, StageSpan } from '@netboot/boot-events';

/*
 * The shapes the status port sends, types only: the dashboard page
 * (dashboard/app.ts, compiled apart for the browser) imports them from here
 * through its project reference, so the page and the server cannot drift
 * apart. Nothing here may need Node's types.
 */

/** A node as /api/nodes and `netboot status --json` give it: its state, its last boot's stages at the top, the doctor's findings. */
export interface NodeView extends NodeState {
  stages: StageSpan[];
  diagnosis: Diagnosis[];
  /** For an image-backed node (add-node --image): the image and the generation it runs; null otherwise. */
  image: NodeImage | null;
}

/** One row of the live nodes table: a node without its waterfall and counters, small enough to send on every change. */
export interface NodeRow
  extends Pick<NodeState, 'key' | 'mac' | 'ip' | 'name' | 'firmware' | 'stage' | 'stageSince' | 'lostFrom' | 'lastSeen' | 'bootCount' | 'lastError'> {
  stages: StageSpan[];
  diagnosis: Diagnosis[];
  image: NodeImage | null;
}

/** An image-backed node's generations as status shows them. */
export interface NodeImage {
  name: string;
  /** The generation the node runs (the one its last boot got). */
  generation: number;
  /** The one its next boot gets: its pin, or the promoted generation. */
  next: number;
  promoted: number;
  pinned: boolean;
  /** It still runs an old generation: its next boot gets another one. */
  old: boolean;
}
