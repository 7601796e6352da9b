import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ImageStore, NodeRoots, type ImportSource } from '@netboot/image-store';
import { type Command, UsageError, parseFlags, stringFlag } from '../command.js';

const usage = `usage: netboot image <import|list|promote|rollback> ... [--state-dir DIR]

Root file-system images for diskless nodes, kept as numbered generations
under DIR/images/NAME/GEN (a generation never changes once imported; files
unchanged since the previous generation are shared with it, not copied).

  image import NAME SOURCE    import SOURCE as NAME's next generation and print
                              its number. SOURCE is a directory, a tar file or
                              "-" for a tar on stdin, plain or gzip (as
                              "docker export", "podman export" or a debootstrap
                              tarball give). The first generation is promoted.
  image list                  images, their generations, the promoted one (*),
                              and under each image a line per generation in use:
                              the nodes running it (IP->N: its next boot gets N;
                              "pinned": a pin holds it there)
  image promote NAME GEN      new boots of nodes on NAME get generation GEN
  image rollback NAME         promote again the generation promoted before

flags:
  --state-dir DIR    where images and their state live (default /var/lib/netboot)`;

/** A tar stream, decompressed when it starts with the gzip magic. */
async function* tarBytes(input: Readable): AsyncGenerator<Uint8Array> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done) return;
  const rest = async function* () {
    yield first.value;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  };
  if (first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b) {
    const gunzip = createGunzip();
    pipeline(Readable.from(rest()), gunzip, () => {});
    try {
      yield* gunzip;
    } catch (err) {
      throw new Error(`the gzip stream is damaged or cut short: ${(err as Error).message}`);
    }
  } else yield* rest();
}

async function source(arg: string): Promise<ImportSource> {
  if (arg === '-') return { kind: 'tar', stream: tarBytes(process.stdin) };
  const st = await stat(arg).catch(() => {
    throw new UsageError(`SOURCE "${arg}" does not exist: give a directory, a tar file or "-" for stdin`);
  });
  if (st.isDirectory()) return { kind: 'directory', path: arg };
  return { kind: 'tar', stream: tarBytes(createReadStream(arg)) };
}

function gen(value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`GEN must be a generation number (see "netboot image list"), not "${value ?? ''}"`);
  return n;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export const image: Command = {
  name: 'image',
  summary: 'import root images as generations, list, promote and roll them back',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, { 'state-dir': { type: 'string' } }, true);
    const store = new ImageStore(stringFlag(flags, 'state-dir') ?? '/var/lib/netboot');
    const [sub, ...args] = flags.positionals;
    const want = (n: number, shape: string) => {
      if (args.length !== n) throw new UsageError(`usage: netboot image ${sub} ${shape}`);
    };
    switch (sub) {
      case 'import': {
        want(2, 'NAME SOURCE');
        const r = await store.import(args[0]!, await source(args[1]!));
        const s = r.stats;
        console.error(
          `image ${args[0]} generation ${r.generation}: ${s.entries} entries, ${mib(s.bytesWritten)} written` +
            (r.previous !== undefined ? `, ${s.filesShared} files (${mib(s.bytesShared)}) shared with generation ${r.previous}` : ', promoted') +
            (s.xattrsSkipped > 0 ? `; ${s.xattrsSkipped} extended attributes not kept (the file system does not support them)` : ''),
        );
        console.log(r.generation);
        return 0;
      }
      case 'list': {
        want(0, '');
        const images = await store.list();
        if (images.length === 0) console.error(`no images under ${store.imagesDir} (add one with "netboot image import NAME SOURCE")`);
        const nodes = await new NodeRoots(store.stateDir).generationsInUse();
        for (const i of images) {
          console.log(`${i.name}\t${i.generations.map((g) => (g === i.promoted ? `${g}*` : String(g))).join(' ')}`);
          for (const g of i.generations) {
            const on = nodes.filter((n) => n.image === i.name && n.generation === g);
            if (on.length > 0) console.log(`  ${g}\t${on.map((n) => `${n.ip}${n.next !== g ? `->${n.next}` : ''}${n.pinned ? ' (pinned)' : ''}`).join(', ')}`);
          }
        }
        return 0;
      }
      case 'promote':
        want(2, 'NAME GEN');
        await store.promote(args[0]!, gen(args[1]));
        return 0;
      case 'rollback':
        want(1, 'NAME');
        console.log(await store.rollback(args[0]!));
        return 0;
      default:
        throw new UsageError(sub === undefined ? 'which image command?' : `unknown image command "${sub}"`);
    }
  },
};
