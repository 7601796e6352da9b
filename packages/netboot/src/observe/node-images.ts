import { NodeRoots, type NodeGeneration } from '@netboot/image-store';
import type { NodeImage } from './node-row.js';

/**
 * Which image generation each node runs, read from the state directory
 * (node records and the image state, which `netboot image promote` and
 * `netboot node pin` change beside the server): read again before each
 * answer of the status port and after each MOUNT, kept for the live rows.
 */
export class NodeImages {
  private byIp = new Map<string, NodeImage>();
  private readonly roots: NodeRoots;

  constructor(stateDir: string) {
    this.roots = new NodeRoots(stateDir);
  }

  async refresh(): Promise<void> {
    let nodes: NodeGeneration[];
    try {
      nodes = await this.roots.generationsInUse();
    } catch {
      // A state file being replaced or damaged: keep what was read last; `netboot image list` says what is wrong.
      return;
    }
    this.byIp = new Map(
      nodes.map((n) => [n.ip, { name: n.image, generation: n.generation, next: n.next, promoted: n.promoted, pinned: n.pinned, old: n.generation !== n.next }]),
    );
  }

  of(ip: string | null): NodeImage | null {
    return (ip !== null && this.byIp.get(ip)) || null;
  }
}
