import { MessageType, Opt, decode, encode, getOption, hardwareAddress, type DhcpMessage } from '@netboot/dhcp-wire';

// A PXE ROM's DHCPDISCOVER: BIOS (client architecture 0), UNDI 2.1, a vendor class of PXEClient.
const chaddr = Buffer.alloc(16);
Buffer.from('525400123456', 'hex').copy(chaddr);
const discover: DhcpMessage = {
  op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x1234abcd, secs: 0, flags: 0x8000,
  ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
  chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true,
  options: [
    { code: Opt.MESSAGE_TYPE, data: Buffer.from([MessageType.DISCOVER]) },
    { code: Opt.VENDOR_CLASS, data: Buffer.from('PXEClient:Arch:00000:UNDI:002001') },
    { code: Opt.PXE_SYSTEM_TYPE, data: Buffer.from([0, 0]) }, // option 93: x86 BIOS
    { code: Opt.PXE_CLIENT_NDI, data: Buffer.from([1, 2, 1]) }, // option 94: UNDI 2.1
    { code: Opt.PXE_CLIENT_ID, data: Buffer.alloc(17) }, // option 97: type 0 + the machine UUID
    { code: Opt.PARAMETER_REQUEST_LIST, data: Buffer.from([1, 3, 43, 60, 66, 67]) },
  ],
};

const wire = encode(discover); // a Buffer ready for dgram's send()
const decoded = decode(wire); // byte fields and option data are views into `wire`
const vendorClass = Buffer.from(getOption(decoded, Opt.VENDOR_CLASS) ?? []).toString('latin1');
console.log(`${Buffer.from(hardwareAddress(decoded)).toString('hex')} says ${vendorClass}`);
console.log(`re-encodes to the same ${wire.length} bytes: ${encode(decoded).equals(wire)}`);
