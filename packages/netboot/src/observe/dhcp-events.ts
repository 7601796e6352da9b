import { MESSAGE_TYPE_NAMES, Opt, formatIpv4, getOption, hardwareAddress, type DhcpMessage } from '@netboot/dhcp-wire';
import type { DhcpEvent, DhcpMessageName } from '@netboot/boot-events';

const MAX_TEXT = 128;

/** Printable ASCII of an option, at most MAX_TEXT characters (the bytes are the client's). */
function text(data: Uint8Array | undefined): string | undefined {
  if (!data || data.length === 0) return undefined;
  let s = '';
  for (let i = 0; i < data.length && s.length < MAX_TEXT; i++) {
    const c = data[i];
    if (c === 0) break;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}

function messageName(msg: DhcpMessage): DhcpMessageName | undefined {
  const t = getOption(msg, Opt.MESSAGE_TYPE)?.[0];
  const name = t === undefined ? undefined : MESSAGE_TYPE_NAMES[t];
  return name ? (name.slice(4) as DhcpMessageName) : undefined;
}

function macOf(msg: DhcpMessage): string {
  return Array.from(hardwareAddress(msg), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Option 77 as sent: iPXE sends the bare string; RFC 3004 wraps each class in a length byte. */
function userClass(data: Uint8Array | undefined): string | undefined {
  if (!data || data.length === 0) return undefined;
  if (data[0] === data.length - 1 && data[0] > 0) return text(data.subarray(1));
  return text(data);
}

/** The boot events of one DHCP exchange: what the node sent and, when one went out, our reply. */
export function dhcpEvents(request: DhcpMessage, reply: DhcpMessage | undefined, at: number): DhcpEvent[] {
  const message = messageName(request);
  if (!message) return [];
  const mac = macOf(request);
  const arch = getOption(request, Opt.PXE_SYSTEM_TYPE);
  const requested = getOption(request, Opt.REQUESTED_ADDRESS);
  const ip = request.ciaddr ? formatIpv4(request.ciaddr) : requested?.length === 4 ? formatIpv4(((requested[0] << 24) | (requested[1] << 16) | (requested[2] << 8) | requested[3]) >>> 0) : undefined;
  const out: DhcpEvent[] = [
    {
      kind: 'dhcp',
      at,
      mac,
      message,
      ip,
      vendorClass: text(getOption(request, Opt.VENDOR_CLASS)),
      arch: arch && arch.length >= 2 ? (arch[0] << 8) | arch[1] : undefined,
      userClass: userClass(getOption(request, Opt.USER_CLASS)),
      hostName: text(getOption(request, Opt.HOST_NAME)),
    },
  ];
  const answer = reply ? messageName(reply) : undefined;
  if (reply && answer) {
    out.push({
      kind: 'dhcp',
      at,
      mac,
      message: answer,
      ip: reply.yiaddr ? formatIpv4(reply.yiaddr) : undefined,
      hostName: text(getOption(reply, Opt.HOST_NAME)),
      bootFile: text(getOption(reply, Opt.BOOTFILE_NAME)) ?? text(reply.file),
    });
  }
  return out;
}
