import type { Command } from '../command.js';
import { addNode } from './add-node.js';
import { doctor } from './doctor.js';
import { pxelinux } from './pxelinux.js';
import { serve } from './serve.js';
import { nfs } from './nfs.js';
import { portmap } from './portmap.js';
import { tftp } from './tftp.js';
import { http } from './http.js';
import { dhcp } from './dhcp.js';
import { status } from './status.js';
import { image } from './image.js';
import { node } from './node.js';

/** Every subcommand, in the order `netboot --help` lists them. */
export const commands: Command[] = [
  serve,
  status,
  dhcp,
  tftp,
  http,
  nfs,
  portmap,
  doctor,
  addNode,
  image,
  node,
  pxelinux,
];
