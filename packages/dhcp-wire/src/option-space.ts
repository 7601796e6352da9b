import { T, type OptionType } from './option-value.js';

/** One option's definition: its code in its space, its dhcpd.conf name and its value type. */
export interface OptionDef {
  code: number;
  name: string;
  type: OptionType;
}

/**
 * A named set of option codes: the DHCP options themselves ("dhcp"), or the
 * sub-options carried inside an encapsulating option (43's vendor spaces such
 * as PXE, 82's relay agent sub-options).
 */
export class OptionSpace {
  private readonly byCode = new Map<number, OptionDef>();
  private readonly byName = new Map<string, OptionDef>();
  /** Other names of a code: the ones a later definition took over, and built-in synonyms. */
  private readonly aliases = new Map<string, number>();

  constructor(
    readonly name: string,
    defs: readonly OptionDef[] = [],
  ) {
    for (const d of defs) this.define(d);
  }

  /**
   * Adds or replaces a definition. A later `option X.y code N` takes over code
   * N; as in dhcpd, the code's earlier name still names it
   * (`option arch code 93 = unsigned integer 16;` leaves pxe-system-type working).
   */
  define(def: OptionDef): void {
    const old = this.byCode.get(def.code);
    if (old && old.name !== def.name) {
      this.byName.delete(old.name);
      this.aliases.set(old.name, old.code);
    }
    const sameName = this.byName.get(def.name);
    if (sameName && sameName.code !== def.code) this.byCode.delete(sameName.code);
    this.aliases.delete(def.name);
    this.byCode.set(def.code, def);
    this.byName.set(def.name, def);
  }

  /** Another name for a defined code. */
  alias(name: string, code: number): void {
    this.aliases.set(name, code);
  }

  code(code: number): OptionDef | undefined {
    return this.byCode.get(code);
  }

  named(name: string): OptionDef | undefined {
    const def = this.byName.get(name);
    if (def) return def;
    const code = this.aliases.get(name);
    return code === undefined ? undefined : this.byCode.get(code);
  }

  defs(): IterableIterator<OptionDef> {
    return this.byCode.values();
  }

  clone(): OptionSpace {
    const copy = new OptionSpace(this.name, [...this.byCode.values()]);
    for (const [name, code] of this.aliases) copy.alias(name, code);
    return copy;
  }
}

/** Option codes the server and policy refer to by name. */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTERS: 3,
  DOMAIN_NAME_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  ROOT_PATH: 17,
  BROADCAST_ADDRESS: 28,
  VENDOR_ENCAPSULATED: 43,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77,
  RELAY_AGENT_INFO: 82,
  PXE_SYSTEM_TYPE: 93,
  PXE_CLIENT_NDI: 94,
  PXE_CLIENT_ID: 97,
  END: 255,
} as const;

const ips = T.ips;
/** RFC 2132 options (plus the PXE ones, RFC 4578), named as dhcpd.conf names them. */
const STANDARD: OptionDef[] = [
  [1, 'subnet-mask', T.ip],
  [2, 'time-offset', T.i32],
  [3, 'routers', ips],
  [4, 'time-servers', ips],
  [5, 'ien116-name-servers', ips],
  [6, 'domain-name-servers', ips],
  [7, 'log-servers', ips],
  [8, 'cookie-servers', ips],
  [9, 'lpr-servers', ips],
  [10, 'impress-servers', ips],
  [11, 'resource-location-servers', ips],
  [12, 'host-name', T.text],
  [13, 'boot-size', T.u16],
  [14, 'merit-dump', T.text],
  [15, 'domain-name', T.text],
  [16, 'swap-server', T.ip],
  [17, 'root-path', T.text],
  [18, 'extensions-path', T.text],
  [19, 'ip-forwarding', T.bool],
  [20, 'non-local-source-routing', T.bool],
  [21, 'policy-filter', ips],
  [22, 'max-dgram-reassembly', T.u16],
  [23, 'default-ip-ttl', T.u8],
  [24, 'path-mtu-aging-timeout', T.u32],
  [25, 'path-mtu-plateau-table', T.u16s],
  [26, 'interface-mtu', T.u16],
  [27, 'all-subnets-local', T.bool],
  [28, 'broadcast-address', T.ip],
  [29, 'perform-mask-discovery', T.bool],
  [30, 'mask-supplier', T.bool],
  [31, 'router-discovery', T.bool],
  [32, 'router-solicitation-address', T.ip],
  [33, 'static-routes', ips],
  [34, 'trailer-encapsulation', T.bool],
  [35, 'arp-cache-timeout', T.u32],
  [36, 'ieee802-3-encapsulation', T.bool],
  [37, 'default-tcp-ttl', T.u8],
  [38, 'tcp-keepalive-interval', T.u32],
  [39, 'tcp-keepalive-garbage', T.bool],
  [40, 'nis-domain', T.text],
  [41, 'nis-servers', ips],
  [42, 'ntp-servers', ips],
  [43, 'vendor-encapsulated-options', T.bytes],
  [44, 'netbios-name-servers', ips],
  [45, 'netbios-dd-server', ips],
  [46, 'netbios-node-type', T.u8],
  [47, 'netbios-scope', T.text],
  [48, 'font-servers', ips],
  [49, 'x-display-manager', ips],
  [50, 'dhcp-requested-address', T.ip],
  [51, 'dhcp-lease-time', T.u32],
  [52, 'dhcp-option-overload', T.u8],
  [53, 'dhcp-message-type', T.u8],
  [54, 'dhcp-server-identifier', T.ip],
  [55, 'dhcp-parameter-request-list', T.u8s],
  [56, 'dhcp-message', T.text],
  [57, 'dhcp-max-message-size', T.u16],
  [58, 'dhcp-renewal-time', T.u32],
  [59, 'dhcp-rebinding-time', T.u32],
  [60, 'vendor-class-identifier', T.text],
  [61, 'dhcp-client-identifier', T.bytes],
  [64, 'nisplus-domain', T.text],
  [65, 'nisplus-servers', ips],
  [66, 'tftp-server-name', T.text],
  [67, 'bootfile-name', T.text],
  [68, 'mobile-ip-home-agent', ips],
  [69, 'smtp-server', ips],
  [70, 'pop-server', ips],
  [71, 'nntp-server', ips],
  [72, 'www-server', ips],
  [73, 'finger-server', ips],
  [74, 'irc-server', ips],
  [75, 'streettalk-server', ips],
  [76, 'streettalk-directory-assistance-server', ips],
  [77, 'user-class', T.bytes],
  [82, 'relay-agent-information', { kind: 'encapsulate', space: 'agent' }],
  [93, 'pxe-system-type', T.u16s],
  [94, 'pxe-client-ndi', { kind: 'record', fields: [T.u8, T.u8, T.u8] }],
  [97, 'pxe-client-id', { kind: 'record', fields: [T.u8, T.bytes] }],
  [119, 'domain-search', T.bytes],
  [121, 'classless-static-routes', T.bytes],
  [175, 'etherboot', T.bytes],
].map(([code, name, type]) => ({ code, name, type }) as OptionDef);

/** The PXE vendor space (PXE 2.1 spec, as the Gentoo guide declares it for option 43). */
const PXE: OptionDef[] = [
  [1, 'mtftp-ip', T.ip],
  [2, 'mtftp-cport', T.u16],
  [3, 'mtftp-sport', T.u16],
  [4, 'mtftp-tmout', T.u8],
  [5, 'mtftp-delay', T.u8],
  [6, 'discovery-control', T.u8],
  [7, 'discovery-mcast-addr', T.ip],
  [8, 'boot-servers', T.bytes],
  [9, 'boot-menu', T.bytes],
  [10, 'menu-prompt', { kind: 'record', fields: [T.u8, T.text] }],
  [71, 'boot-item', { kind: 'record', fields: [T.u16, T.u16] }],
].map(([code, name, type]) => ({ code, name, type }) as OptionDef);

/** Relay agent sub-options (RFC 3046). */
const AGENT: OptionDef[] = [
  { code: 1, name: 'circuit-id', type: T.bytes },
  { code: 2, name: 'remote-id', type: T.bytes },
];

/** A fresh set of the built-in spaces: dhcp, PXE, agent. A configuration adds its own. */
export function builtinSpaces(): Map<string, OptionSpace> {
  const dhcp = new OptionSpace('dhcp', STANDARD);
  // RFC 4578 calls option 93 "Client System Architecture Type".
  dhcp.alias('client-architecture', Opt.PXE_SYSTEM_TYPE);
  return new Map([
    ['dhcp', dhcp],
    ['PXE', new OptionSpace('PXE', PXE)],
    ['agent', new OptionSpace('agent', AGENT)],
  ]);
}

/** Dhcp message types (option 53). */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: 'DHCPDISCOVER',
  2: 'DHCPOFFER',
  3: 'DHCPREQUEST',
  4: 'DHCPDECLINE',
  5: 'DHCPACK',
  6: 'DHCPNAK',
  7: 'DHCPRELEASE',
  8: 'DHCPINFORM',
};
