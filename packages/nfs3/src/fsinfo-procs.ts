import { FsProperties, NAME_MAX } from './nfs3-constants.js';
import type { ArgsOf, ResOf } from './nfs3-procedures.js';
import { type Call, attr } from './procedure-context.js';

// FSSTAT, FSINFO, PATHCONF.

export async function fsstat(a: ArgsOf<'FSSTAT'>, call: Call): Promise<ResOf<'FSSTAT'>> {
  const t = await call.target(a.object);
  const s = await t.fs.statfs(t.obj);
  return { status: 0, attributes: attr(t, t.obj.attrs), ...s, invarsec: 0 };
}

export async function fsinfo(a: ArgsOf<'FSINFO'>, call: Call): Promise<ResOf<'FSINFO'>> {
  const t = await call.target(a.object);
  const max = call.maxIo;
  return {
    status: 0,
    attributes: attr(t, t.obj.attrs),
    rtmax: max,
    rtpref: max,
    rtmult: 4096,
    wtmax: max,
    wtpref: max,
    wtmult: 4096,
    dtpref: Math.min(max, 64 * 1024),
    maxfilesize: (1n << 63n) - 1n,
    timeDelta: { seconds: 0, nseconds: 1 },
    properties: FsProperties.LINK | FsProperties.SYMLINK | FsProperties.HOMOGENEOUS | FsProperties.CANSETTIME,
  };
}

export async function pathconf(a: ArgsOf<'PATHCONF'>, call: Call): Promise<ResOf<'PATHCONF'>> {
  const t = await call.target(a.object);
  return {
    status: 0,
    attributes: attr(t, t.obj.attrs),
    linkmax: 65000,
    nameMax: NAME_MAX,
    noTrunc: true,
    chownRestricted: true,
    caseInsensitive: false,
    casePreserving: true,
  };
}
