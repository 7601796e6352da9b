/**
 * A failed bind of a server's port as the user can act on it. `inUse` says
 * who probably holds the port and how to choose another (it follows "is
 * already in use"); `root` names the served directory when the server has
 * one (a missing root fails the listen too).
 */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number, o: { inUse: string; root?: string }): Error {
  if (err.code === 'EADDRINUSE') return new Error(`${host} port ${port} is already in use${o.inUse}`);
  if (err.code === 'EACCES') return new Error(`binding port ${port} needs root (or CAP_NET_BIND_SERVICE); run as root or use a port above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${host} is not an address of this host; check --listen`);
  if (err.code === 'ENOENT' && o.root) return new Error(`${err.path ?? o.root} does not exist; check ${o.root}`);
  return err;
}
