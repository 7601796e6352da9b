/**
 * dhcpd.conf(5) statements netboot does not do, each with what to write
 * instead: the error a user sees names the ISC feature and netboot's way.
 */
export const UNSUPPORTED = new Map<string, string>([
  ['subclass', 'subclasses (of a class that spawns one per value) are not supported: write one class per value with "match if EXPRESSION = VALUE;"'],
  ['switch', 'switch/case is not supported: write the same with if / elsif / else'],
  ['case', 'switch/case is not supported: write the same with if / elsif / else'],
  ['define', 'user-defined functions are not supported: write the expression where it is used'],
  ['function', 'user-defined functions are not supported: write the expression where it is used'],
  ['return', '"return" belongs to user-defined functions, which are not supported'],
  ['host-identifier', 'netboot matches host declarations by "hardware ethernet MAC;" only; write that instead'],
  ['prepend', 'prepend/append option is a dhclient.conf statement: in a server file set the whole value with "option NAME VALUE;"'],
  ['append', 'prepend/append option is a dhclient.conf statement: in a server file set the whole value with "option NAME VALUE;"'],
  ['request', '"request" is a dhclient.conf statement; a server file sets options with "option NAME VALUE;"'],
  ['send', '"send" is a dhclient.conf statement; a server file sets options with "option NAME VALUE;"'],
  ['vendor-class', 'the old "vendor-class"/"user-class" declarations are not supported: write class "NAME" { match if option vendor-class-identifier = "..."; }'],
  ['user-class', 'the old "vendor-class"/"user-class" declarations are not supported: write class "NAME" { match if option user-class = "..."; }'],
  ['ldap-server', 'netboot reads its configuration from a file, not LDAP: write the LDAP tree out as a dhcpd.conf'],
  ['ldap-base-dn', 'netboot reads its configuration from a file, not LDAP: write the LDAP tree out as a dhcpd.conf'],
  ['ldap-method', 'netboot reads its configuration from a file, not LDAP: write the LDAP tree out as a dhcpd.conf'],
  ['ldap-dhcp-server-cn', 'netboot reads its configuration from a file, not LDAP: write the LDAP tree out as a dhcpd.conf'],
  ['authoring-byte-order', 'lease file byte order: netboot keeps leases in its own format; remove it'],
]);
