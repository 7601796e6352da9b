import { createSocket, type Socket } from 'node:dgram';

/*
 * Node's dgram cannot set SO_BINDTODEVICE, and without it (or IP_PKTINFO) a
 * socket bound to 0.0.0.0:67 takes broadcasts from every interface and cannot
 * tell which one a DHCPDISCOVER came in on. So the sockets are made by perl
 * (perl-base is Essential in Debian: always installed), which sets
 * SO_BINDTODEVICE and binds them, then execs the server with the descriptors
 * left open; Node wraps them with `socket.bind({ fd })`. The kernel then
 * delivers only datagrams that arrived on that interface, and every reply,
 * the limited broadcast 255.255.255.255 included, leaves through it.
 */
const SO_BINDTODEVICE = 25; // <asm-generic/socket.h>, the same on every Linux architecture Debian ships

const SCRIPT = `
use strict; use Socket;
my ($if, $addr, $ports, @cmd) = @ARGV;
$^F = 1023;
my @fds; my @keep;
for my $port (split /,/, $ports) {
  socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\\n";
  setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "SO_REUSEADDR: $!\\n";
  setsockopt($s, SOL_SOCKET, SO_BROADCAST, 1) or die "SO_BROADCAST: $!\\n";
  setsockopt($s, SOL_SOCKET, ${SO_BINDTODEVICE}, pack('Z*', $if)) or die "cannot bind to interface $if (SO_BINDTODEVICE): $!\\n";
  bind($s, sockaddr_in($port, inet_aton($addr))) or die "cannot bind UDP $addr:$port on $if: $!\\n";
  push @fds, "$port=" . fileno($s); push @keep, $s;
}
$ENV{NETBOOT_DHCP_FDS} = join(',', @fds);
exec { $cmd[0] } @cmd or die "exec $cmd[0]: $!\\n";
`;

/** The command that opens device-bound sockets for `ports` and then runs `command args...` with them. */
export function deviceSocketLauncher(ifname: string, address: string, ports: number[], command: string, args: string[]): { command: string; args: string[] } {
  return { command: 'perl', args: ['-e', SCRIPT, ifname, address, ports.join(','), command, ...args] };
}

/** The descriptors the launcher passed, by port, or undefined when not launched that way. */
export function inheritedSockets(env: NodeJS.ProcessEnv = process.env): Map<number, number> | undefined {
  const spec = env.NETBOOT_DHCP_FDS;
  if (!spec) return undefined;
  const out = new Map<number, number>();
  for (const part of spec.split(',')) {
    const [port, fd] = part.split('=').map(Number);
    if (Number.isInteger(port) && Number.isInteger(fd) && fd > 2) out.set(port, fd);
  }
  return out;
}

/** A dgram socket bound to an inherited descriptor, or to address:port. */
export function openSocket(spec: { fd: number } | { address: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.once('error', reject);
    const done = () => {
      s.off('error', reject);
      s.setBroadcast(true);
      resolve(s);
    };
    if ('fd' in spec) s.bind({ fd: spec.fd }, done);
    else s.bind({ address: spec.address, port: spec.port }, done);
  });
}
