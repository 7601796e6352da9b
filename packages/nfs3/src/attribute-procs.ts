import { nfsTime, wccAttr } from './attributes.js';
import { accessBits, owner, sattrChange } from './credentials.js';
import { statusOf } from './errno-status.js';
import { isDir } from './export-fs.js';
import { NfsStat } from './nfs3-constants.js';
import type { ArgsOf, ResOf } from './nfs3-procedures.js';
import { type Call, attr, err, wcc } from './procedure-context.js';

// GETATTR, SETATTR, ACCESS.

export async function getattr(a: ArgsOf<'GETATTR'>, call: Call): Promise<ResOf<'GETATTR'>> {
  const t = await call.target(a.object);
  return { status: 0, attributes: attr(t, t.obj.attrs) };
}

export async function setattr(a: ArgsOf<'SETATTR'>, call: Call): Promise<ResOf<'SETATTR'>> {
  const t = await call.target(a.object);
  const st = t.obj.attrs;
  const before = { wcc: { before: wccAttr(st), after: attr(t, st) } };
  if (a.guard) {
    const ct = nfsTime(st.ctimeNs);
    if (ct.seconds !== a.guard.seconds || ct.nseconds !== a.guard.nseconds) throw err(NfsStat.NOT_SYNC, undefined, before);
  }
  if (!t.opts.rw) throw err(NfsStat.ROFS, undefined, before);
  try {
    await t.fs.setattr(t.obj, sattrChange(t.caller, st, a.attributes, false, call.refused));
  } catch (e) {
    throw err(statusOf(e), String(e), { wcc: await wcc(t) });
  }
  return { status: 0, wcc: await wcc(t) };
}

export async function access(a: ArgsOf<'ACCESS'>, call: Call): Promise<ResOf<'ACCESS'>> {
  const t = await call.target(a.object);
  const st = t.obj.attrs;
  return { status: 0, attributes: attr(t, st), access: accessBits(t.caller, owner(st), isDir(st), a.access, !t.opts.rw) };
}
