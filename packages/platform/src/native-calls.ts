/** A name the kernel takes as bytes: a Buffer passes through unchanged (NFS
 * names need not be UTF-8), a string is encoded as UTF-8. */
export type Name = string | Buffer;

/** fstatat/fstat: 64-bit quantities as bigint, times as nanoseconds since the epoch. */
export interface StatResult {
  dev: bigint;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: bigint;
  blocks: bigint;
  blksize: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The holder of a conflicting lock, as F_OFD_GETLK reports it (pid -1 for an OFD lock). */
export interface LockHolder {
  type: number;
  start: bigint;
  len: bigint;
  pid: number;
}

/** One IPv4 address of an interface. */
export interface InterfaceAddress {
  address: string;
  netmask: string;
  /** IFF_UP: administratively up (carrier or not). */
  up: boolean;
}

/**
 * A UDP socket owned by the addon (udpOpen). Before each `onBatch` the addon
 * fills its arrays: datagram i is `slab[i * slotBytes, i * slotBytes + lengths[i])`
 * (`lengths[i]` is -1 for a datagram longer than a slot, cut short: drop it)
 * and its sender is record i of `addresses` (read it with `udpAddress`). The
 * arrays are allocated once and overwritten by the next batch: copy what
 * must outlive the call.
 */
export interface UdpSocketHandle {
  readonly slab: Buffer;
  readonly lengths: Int32Array;
  readonly addresses: Buffer;
}

/** What a native UDP socket calls, with the listener as `this`, on its thread's event loop. */
export interface UdpListener {
  /**
   * One call per recvmmsg batch of `count` (1..slots) datagrams. Datagrams
   * before `first` were answered by the socket's reply script
   * (`udpScriptArm`) and are not the listener's; without a script `first` is 0.
   */
  onBatch(count: number, slab: Buffer, lengths: Int32Array, addresses: Buffer, first: number): void;
  /**
   * A receive or send error the socket reported (ECONNREFUSED after a datagram
   * reached a closed port, say), or what onBatch threw. Errors other than such
   * one-off reports close the socket first. What onError throws goes to
   * `process.on('uncaughtException')`.
   */
  onError(error: Error): void;
}

/** The kernel's numbers for the flags these calls take, read from this machine's headers. */
export interface PlatformConstants {
  O_PATH: number;
  O_NOFOLLOW: number;
  O_DIRECTORY: number;
  O_CLOEXEC: number;
  O_RDONLY: number;
  O_WRONLY: number;
  O_RDWR: number;
  O_CREAT: number;
  O_EXCL: number;
  O_TRUNC: number;
  O_NONBLOCK: number;
  O_APPEND: number;
  RESOLVE_BENEATH: number;
  RESOLVE_NO_SYMLINKS: number;
  RESOLVE_NO_MAGICLINKS: number;
  RESOLVE_NO_XDEV: number;
  RESOLVE_IN_ROOT: number;
  AT_FDCWD: number;
  AT_SYMLINK_NOFOLLOW: number;
  AT_EMPTY_PATH: number;
  AT_REMOVEDIR: number;
  AT_SYMLINK_FOLLOW: number;
  UTIME_NOW: number;
  UTIME_OMIT: number;
  RENAME_NOREPLACE: number;
  RENAME_EXCHANGE: number;
  RENAME_WHITEOUT: number;
  F_RDLCK: number;
  F_WRLCK: number;
  F_UNLCK: number;
  POSIX_FADV_NORMAL: number;
  POSIX_FADV_RANDOM: number;
  POSIX_FADV_SEQUENTIAL: number;
  POSIX_FADV_WILLNEED: number;
  POSIX_FADV_DONTNEED: number;
  POSIX_FADV_NOREUSE: number;
  /** pwriteSync flags: RWF_DSYNC as fdatasync, RWF_SYNC as fsync, of the written range. */
  RWF_DSYNC: number;
  RWF_SYNC: number;
  XATTR_CREATE: number;
  XATTR_REPLACE: number;
  S_IFMT: number;
  S_IFREG: number;
  S_IFDIR: number;
  S_IFLNK: number;
  S_IFCHR: number;
  S_IFBLK: number;
  S_IFIFO: number;
  S_IFSOCK: number;
  /** udpOpen flags: SO_REUSEADDR; IPV6_V6ONLY on an IPv6 socket (else it takes IPv4 too). */
  UDP_REUSEADDR: number;
  UDP_IPV6ONLY: number;
  /** The most slots a udpOpen socket reads per batch (the kernel's UIO_MAXIOV). */
  UDP_SLOTS_MAX: number;
  /** Bytes per record in a UdpSocketHandle's `addresses`. */
  UDP_ADDRESS_BYTES: number;
}

/** A sendfileAll under way. */
export interface SendfileTransfer {
  /** Bytes handed to the socket so far. */
  sent(): number;
  /** Bytes in the socket's send queue not yet acknowledged by the peer (SIOCOUTQ; 0 once ended). */
  queued(): number;
  /** Stops it; `done` is then called with ECANCELED (unless it had ended), once no pool thread reads the file. */
  cancel(): void;
  /** Bytes a pool thread read into the page cache because they were not there (0 for a cached file). */
  warmed(): number;
}

/**
 * The addon's calls. Each is one syscall (openat2 may walk, see below);
 * each throws an Error with `code` ('ENOENT'), `errno` (negative) and
 * `syscall` as node:fs does, and checks every fd, length and name before
 * the kernel sees it. Synchronous calls are the ones that do not wait on
 * I/O beyond metadata; the waits (`ofdSetLockWait`, `icmpEcho`) run off the event loop.
 */
/** Where statxInto puts each attribute in its `out` array; times are nanoseconds since the epoch. */
export const STATX_SLOT = { dev: 0, ino: 1, mode: 2, nlink: 3, uid: 4, gid: 5, rdev: 6, size: 7, blocks: 8, atimeNs: 9, mtimeNs: 10, ctimeNs: 11, birthtimeNs: 12 } as const;
/** The length statxInto needs of its `out` array. */
export const STATX_SLOTS = 13;

export interface NativeCalls {
  /** openat2(dirfd, path, flags, mode, resolve). O_CLOEXEC is always added. Where the
   * kernel lacks openat2 (before 5.6) the path is walked one component at a time with
   * O_NOFOLLOW from dirfd, refusing '..', absolute paths (EXDEV) and symlinks (ELOOP). */
  openat2(dirfd: number, path: Name, flags: number, mode: number, resolve: number): number;
  /** The component walk alone, whatever the kernel: for tests and for comparison. */
  openBeneathWalk(dirfd: number, path: Name, flags: number, mode: number, resolve: number): number;
  fstatat(dirfd: number, name: Name, flags: number): StatResult;
  fstat(fd: number): StatResult;
  /**
   * statx of `name` beneath `dirfd` (`''` with AT_EMPTY_PATH: dirfd itself) into `out` (at least
   * STATX_SLOTS 64-bit elements; see STATX_SLOT): no object made per call, birth time included (0 where
   * the file system keeps none). True, or false when there is no such name (ENOENT); other errors throw.
   */
  statxInto(dirfd: number, name: Name, flags: number, out: BigInt64Array | BigUint64Array): boolean;
  /** uid or gid -1 leaves that one unchanged. */
  fchownat(dirfd: number, name: Name, uid: number, gid: number, flags: number): void;
  fchmod(fd: number, mode: number): void;
  fchmodat(dirfd: number, name: Name, mode: number, flags: number): void;
  /** Times to the nanosecond; a nsec of UTIME_NOW or UTIME_OMIT as the kernel reads it.
   * name '' with AT_EMPTY_PATH acts on dirfd itself (O_PATH fds included). */
  utimensat(
    dirfd: number,
    name: Name,
    atimeSec: number,
    atimeNsec: number,
    mtimeSec: number,
    mtimeNsec: number,
    flags: number,
  ): void;
  mkdirat(dirfd: number, name: Name, mode: number): void;
  /** mode carries the type: S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK or S_IFREG. */
  mknodat(dirfd: number, name: Name, mode: number, major: number, minor: number): void;
  mkfifoat(dirfd: number, name: Name, mode: number): void;
  linkat(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags: number): void;
  symlinkat(target: Name, dirfd: number, name: Name): void;
  readlinkat(dirfd: number, name: Name): Buffer;
  /** flags: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT. */
  renameat2(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags: number): void;
  unlinkat(dirfd: number, name: Name, flags: number): void;
  /** getdents64 from the directory fd's offset: up to `max` entries as [name, ino, d_type],
   * without '.' and '..'; [] at the end. The offset continues after the last one returned. */
  readdir(dirfd: number, max: number): Array<[Buffer, bigint, number]>;
  /** readdir's names alone, as Latin-1 strings (one character a byte: the exact bytes, no Buffer per name). */
  readdirNames(dirfd: number, max: number): string[];
  /**
   * statx of `names[from .. from + count)` (Latin-1 strings, one component each: no '/', never '.' or '..')
   * beneath `dirfd`, never following a final symlink, record k into `out` at `k * STATX_SLOTS` as statxInto
   * writes one; a name that is gone leaves an all-zero record (mode 0). Returns how many were found; other
   * errors throw. At most 4096 names a call.
   */
  statxNamesInto(dirfd: number, names: readonly string[], from: number, count: number, out: BigInt64Array | BigUint64Array): number;
  ftruncate(fd: number, length: bigint | number): void;
  /**
   * preadv2 with RWF_NOWAIT: up to `length` bytes of `fd` from `position` into `buffer` at `offset`,
   * only from the page cache. Returns the bytes read (0 at end of file; fewer than `length` when only
   * the first part is cached), or -1 when the first byte is not cached (EAGAIN: read it in a thread
   * pool). A file system without non-blocking reads throws EOPNOTSUPP. Never waits for the disk, so
   * an event loop may call it.
   */
  preadNowait(fd: number, buffer: Uint8Array, offset: number, length: number, position: bigint | number): number;
  /**
   * pwritev2 with RWF_DSYNC (the data, as fdatasync) or RWF_SYNC (data and all metadata, as fsync) on libuv's
   * pool: `length` bytes of `buffer` from `offset` to `fd` at `position`, on disk when the promise resolves
   * with the bytes written (all of them unless the file system stopped short). One pool hop for a stable
   * write instead of a write and then an fsync. `length` at most 2^31 - 1; the buffer is held until it settles.
   */
  pwriteSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: bigint | number, flags: number): Promise<number>;
  /**
   * mincore over a transient mapping of the range: how many pages `[offset, offset + length)` of the
   * regular file `fd` spans (clipped at its end) and how many of them the page cache holds up to date
   * (pages still being read in count as missing). Never waits for the disk. The kernel tells the
   * truth only to the file's owner, a writer or root; to others every page looks cached.
   */
  cachedPages(fd: number, offset: bigint | number, length: bigint | number): { pages: number; cached: number };
  /** posix_fadvise(fd, offset, length, advice): advice one of the POSIX_FADV_* constants; length 0 = to the end. */
  fadvise(fd: number, offset: bigint | number, length: bigint | number, advice: number): void;

  /** Sets an extended attribute of `path` itself (a final symlink is not followed). name: 1 to
   * 255 bytes (ERANGE otherwise), value: at most 64 KiB (E2BIG); flags 0, XATTR_CREATE or XATTR_REPLACE. */
  lsetxattr(path: Name, name: Name, value: Uint8Array, flags: number): void;
  /** The same on an open fd (not an O_PATH one: EBADF). */
  fsetxattr(fd: number, name: Name, value: Uint8Array, flags: number): void;
  /** The value of one attribute of `path` itself; ENODATA when it has none of that name. */
  lgetxattr(path: Name, name: Name): Buffer;
  fgetxattr(fd: number, name: Name): Buffer;
  /** The names of the attributes of `path` itself, as bytes (those this process may see). */
  llistxattr(path: Name): Buffer[];
  flistxattr(fd: number): Buffer[];
  /** syncfs(2) on libuv's pool: flushes the whole file system holding `fd` (kept open until it settles). */
  syncfs(fd: number): Promise<void>;

  /** F_OFD_SETLK: true when set, false when another holder conflicts. len 0 = to EOF. */
  ofdSetLock(fd: number, type: number, start: bigint | number, len: bigint | number): boolean;
  /** F_OFD_GETLK for a would-be F_RDLCK/F_WRLCK: the first conflicting holder, or null. */
  ofdGetLock(fd: number, type: number, start: bigint | number, len: bigint | number): LockHolder | null;
  /** F_OFD_SETLKW on a thread of its own; resolves when the lock is held. It cannot be
   * cancelled. keepAlive false: the wait alone does not keep the process running (a server
   * stopping is not held up by a lock another process keeps). */
  ofdSetLockWait(fd: number, type: number, start: bigint | number, len: bigint | number, keepAlive?: boolean): Promise<void>;

  /** SO_BINDTODEVICE on a socket fd (a bound node:dgram socket's). */
  bindToDevice(fd: number, ifname: string): void;
  /** SO_RCVBUFFORCE: a receive buffer of `bytes` past net.core.rmem_max; false without CAP_NET_ADMIN (left as it was). */
  receiveBufferForce(fd: number, bytes: number): boolean;
  /** SO_RCVLOWAT: the socket polls readable once it holds `bytes` (1 to 2^31-1; the kernel caps it), or at its end or an error. */
  receiveLowWater(fd: number, bytes: number): void;
  /**
   * SO_SNDBUF: a send buffer of `bytes` (capped by net.core.wmem_max) on a TCP socket's fd, fixed from
   * now on (the kernel no longer grows it); a listening socket's is inherited by the connections it
   * accepts. Returns the size the kernel reports (twice what it took: its bookkeeping share).
   */
  setSendBuffer(fd: number, bytes: number): number;
  /** SO_SNDBUF as the kernel reports it now. */
  sendBufferSize(fd: number): number;
  /** sendfile to a non-blocking socket or pipe: bytes sent; a full socket throws code 'EAGAIN'. */
  sendfile(outFd: number, inFd: number, offset: bigint | number, count: number): number;
  /**
   * One sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL) of `buffers[0..count)` in order to a connected stream socket
   * (a net.Socket's fd, see socketFd): the bytes the kernel took (fewer than offered when its send buffer
   * filled), or -1 when it took none (EAGAIN). Never waits, never raises SIGPIPE; EPIPE, ECONNRESET and the
   * like throw. At most 64 buffers a call. Only for a socket whose stream has nothing queued, so the bytes
   * keep their order; what is left goes through the stream.
   */
  sendNowait(fd: number, buffers: readonly Uint8Array[], count: number): number;
  /**
   * sendNowait of `buffers[0..count)` (with MSG_MORE), then, once all of them are taken, `length` bytes of
   * `fileFd` from `position` by sendfile (the page cache's pages handed to the socket, not copied): the bytes
   * taken, buffers' and file's together, fewer than offered when the send buffer filled or the file ended
   * first, or -1 for none. Never waits for room; only for bytes the page cache holds (sendfile would wait for
   * the disk). The same rules as sendNowait otherwise.
   */
  sendFileNowait(fd: number, buffers: readonly Uint8Array[], count: number, fileFd: number, position: bigint | number, length: number): number;
  /**
   * A small response in one call: `length` bytes of the file `fd` from `position` read with
   * preadv2(RWF_NOWAIT) into `buffer` behind the `headLength` bytes of head already there, then
   * `buffer[0, headLength + length)` sent to the connected stream socket `sockFd` in one
   * sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL). The bytes the kernel took (fewer than offered once its send
   * buffer fills), -1 when the range was not all read (not in the page cache, or the file ended
   * first; nothing sent), -2 when the socket took none (EAGAIN; the buffer holds head and body).
   * Other read and send errors throw. As sendNowait, only while the socket's stream has nothing queued.
   */
  sendReadNowait(sockFd: number, buffer: Uint8Array, headLength: number, fd: number, position: bigint | number, length: number): number;
  /** fcntl(F_DUPFD_CLOEXEC) of a socket fd (ENOTSOCK for anything else): a connection
   * accepted on one thread, for another thread to wrap in its own net.Socket. */
  dupSocket(fd: number): number;
  /** `count` bytes of inFd from `offset` to a non-blocking socket with sendfile, driven by the
   * event loop (a poll on a dup of the socket's fd) until all are sent, the socket fails or the
   * transfer is cancelled; then `done` is called once: error null, or ECANCELED, EPIPE, ECONNRESET...,
   * or code 'EOF' when the file ended before `count` bytes. inFd must stay open until then; the
   * dup holds the connection open until then, so cancel when the socket closes. A window of the
   * file the page cache lacks is read into it on libuv's pool first, so the loop never waits for the disk. */
  sendfileAll(
    outFd: number,
    inFd: number,
    offset: bigint | number,
    count: number,
    done: (error: NodeJS.ErrnoException | null, sent: number) => void,
  ): SendfileTransfer;
  /** One ICMP echo to an IPv4 address: true if it answered within timeoutMs (1..60000).
   * A ping socket where net.ipv4.ping_group_range allows, else a raw socket (root). */
  icmpEcho(address: string, timeoutMs: number): Promise<boolean>;

  /**
   * A UDP socket bound to `address` (an IPv4 or IPv6 literal; its family is the
   * socket's) and `port` (0: any free one), optionally bound to `device`
   * (SO_BINDTODEVICE; '' for none) and with a send buffer of `sendBufferBytes`
   * (0 leaves the kernel's default; the kernel caps it at net.core.wmem_max).
   * It is watched on the event loop of the calling thread (a worker's own)
   * and read with recvmmsg, up to `slots` (1..UDP_SLOTS_MAX) datagrams of up to
   * `slotBytes` (1..65536) a call, one `listener.onBatch` per batch. Open, it
   * keeps its thread's loop alive and is never collected; `udpClose` ends it.
   */
  udpOpen(
    address: string,
    port: number,
    flags: number,
    device: string,
    sendBufferBytes: number,
    slots: number,
    slotBytes: number,
    listener: UdpListener,
  ): UdpSocketHandle;
  /** connect(2): only that peer's datagrams arrive, and sends may leave out the address. */
  udpConnect(socket: UdpSocketHandle, address: string, port: number): void;
  udpLocalPort(socket: UdpSocketHandle): number;
  /**
   * A receive queue of `bytes` (1..2^30-1) for bursts: SO_RCVBUFFORCE past
   * net.core.rmem_max with CAP_NET_ADMIN, else SO_RCVBUF (capped at
   * rmem_max). Returns the size the kernel reports (twice what it granted).
   */
  udpReceiveBuffer(socket: UdpSocketHandle, bytes: number): number;
  /**
   * One datagram, `buffer[offset, offset + length)`, to `address`:`port` or, on a
   * connected socket, without them. The kernel copies it before the call
   * returns, or (its buffer full, EAGAIN) the addon keeps a copy that leaves
   * when the socket is writable: the buffer may be reused at once. Other
   * errors throw (code 'ECONNREFUSED' when an earlier datagram met a closed port).
   */
  udpSend(socket: UdpSocketHandle, buffer: Uint8Array, offset: number, length: number, address?: string, port?: number): void;
  /**
   * `count` datagrams laid end to end from the start of `buffer`, datagram i
   * `lengths[i]` bytes, with sendmmsg (64 a system call); a run of equal
   * datagrams as one sendmsg with UDP_SEGMENT where the kernel and route
   * take it. As udpSend otherwise.
   */
  udpSendBatch(socket: UdpSocketHandle, buffer: Uint8Array, lengths: Int32Array, count: number, address?: string, port?: number): void;
  /**
   * Scripted replies on a connected socket, answered in the addon without a
   * JavaScript call: step k (from `from` to `steps - 1`, in order) waits for a
   * datagram equal, byte for byte, to `bytes[k * triggerBytes, (k + 1) * triggerBytes)`
   * and answers it with `plan[k]` datagrams, taken in order from `bytes` after
   * the triggers, datagram j `plan[steps + j]` bytes long. The first datagram
   * that differs (or any after the last step) pauses the script and goes to
   * `onBatch` (its `first`). Nothing is parsed: the caller lays out what it
   * would send. Steps `from..steps-1` are copied: the arrays are free when
   * the call returns. Counts and lengths are checked here (RangeError).
   * While armed, the socket is served by one of the addon's native loops (a
   * pthread with its own epoll) instead of this thread's event loop; any
   * call on the socket takes it back first (see the README).
   */
  udpScriptArm(socket: UdpSocketHandle, bytes: Uint8Array, plan: Int32Array, triggerBytes: number, steps: number, from: number): void;
  /**
   * Ends the script; `state[0]` gets the steps taken since it was armed and
   * `state[1]` when the last was taken (`process.hrtime` in ms).
   */
  udpScriptStop(socket: UdpSocketHandle, state: Float64Array): void;
  /**
   * Arms the script the socket holds again, from the step it stopped at (the
   * datagram that differed is not answered again): no copy. False when no
   * step is left (arm a new one).
   */
  udpScriptResume(socket: UdpSocketHandle): boolean;
  /**
   * A TFTP read transfer's script laid out by the addon from the file: the
   * windows after the one that ended with block index `sent` (DATA of
   * `blksize` bytes, `windowsize` a window, each step waiting for the ACK of
   * the block before its window), read from a dup of `fd` (the file `size`
   * bytes long) a chunk at a time as the steps are used up, with preadv2
   * RWF_NOWAIT: the transfer goes on with no JavaScript turn while its file
   * stays in the page cache. A chunk that is not cached (or a failed read)
   * ends the script there and the ACK goes to `onBatch`. False, with nothing
   * armed, when the first chunk is not cached or nothing follows `sent`.
   * Stopped and resumed as `udpScriptArm`'s; `udpScriptArm` or close lets the
   * file go.
   */
  udpScriptArmFile(socket: UdpSocketHandle, fd: number, size: number, blksize: number, windowsize: number, sent: number): boolean;
  /** Stops watching, then closes; datagrams still held (EAGAIN) get one last try. Calls after it throw EBADF; closing again does nothing. */
  udpClose(socket: UdpSocketHandle): void;

  /** Every interface by name with its IPv4 addresses, from getifaddrs: unlike
   * os.networkInterfaces(), interfaces that are down or without carrier are listed too. */
  interfaceAddresses(): Record<string, InterfaceAddress[]>;

  constants: PlatformConstants;
}
