import { ConfigError, tokenize, type Position, type Token } from './config-lexer.js';
import {
  emptyParams,
  type ClassDecl,
  type ClassMatch,
  type DhcpConfig,
  type Host,
  type Scope,
  type ScopeKind,
  type Subnet,
} from './config-model.js';
import { DhcpWireError } from './dhcp-wire-error.js';
import { formatIpv4, inSubnet, parseIpv4, parseMac } from './ipv4.js';
import { builtinSpaces, OptionSpace, type OptionDef } from './option-space.js';
import { encodeOptionValue, fixedSize, typeName, type OptionType, type OptionValue } from './option-value.js';

const SUPPORTED =
  'ddns-update-style, option, option space, option X.y code N = type, next-server, filename, server-name, ' +
  'default-lease-time, max-lease-time, authoritative, vendor-option-space, allow/deny unknown-clients|bootp|booting, ' +
  'use-host-decl-names, shared-network, subnet, range, group, host, hardware ethernet, fixed-address, class, match if';

/** Parses the subset of ISC dhcpd.conf that diskless setups use; anything else is a ConfigError with file:line:column. */
export function parseConfig(text: string, file = 'dhcpd.conf'): DhcpConfig {
  return new Parser(tokenize(text, file), file).parse();
}

class Parser {
  private i = 0;
  private readonly spaces = builtinSpaces();
  private readonly subnets: Subnet[] = [];
  private readonly hosts: Host[] = [];
  private readonly classes: ClassDecl[] = [];
  private readonly global: Scope;

  constructor(
    private readonly tokens: Token[],
    private readonly file: string,
  ) {
    this.global = { kind: 'global', name: 'global', params: emptyParams(), pos: { file, line: 1, column: 1 } };
  }

  parse(): DhcpConfig {
    this.block(this.global);
    const hostsByMac = new Map<string, Host[]>();
    for (const h of this.hosts) {
      if (!h.mac) continue;
      const list = hostsByMac.get(h.mac) ?? [];
      list.push(h);
      hostsByMac.set(h.mac, list);
    }
    return {
      file: this.file,
      spaces: this.spaces,
      global: this.global,
      subnets: this.subnets,
      hosts: this.hosts,
      classes: this.classes,
      hostsByMac,
    };
  }

  // ------------------------------------------------------------ tokens

  private peek(): Token {
    return this.tokens[this.i];
  }

  private next(): Token {
    const t = this.tokens[this.i];
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private fail(at: Token | Position, why: string): never {
    throw new ConfigError('pos' in at ? at.pos : at, why);
  }

  private describe(t: Token): string {
    return t.kind === 'eof' ? 'end of file' : t.kind === 'string' ? `"${t.text}"` : `"${t.text}"`;
  }

  private expect(punct: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== punct) this.fail(t, `expected "${punct}" but found ${this.describe(t)}`);
    return t;
  }

  private accept(punct: string): boolean {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === punct) {
      this.i++;
      return true;
    }
    return false;
  }

  private word(what: string): Token {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, `expected ${what} but found ${this.describe(t)}`);
    return t;
  }

  private keyword(...allowed: string[]): Token {
    const t = this.next();
    if (t.kind !== 'word' || !allowed.includes(t.text.toLowerCase())) {
      this.fail(t, `expected ${allowed.map((a) => `"${a}"`).join(' or ')} but found ${this.describe(t)}`);
    }
    return t;
  }

  private name(what: string): Token {
    const t = this.next();
    if (t.kind !== 'word' && t.kind !== 'string') this.fail(t, `expected ${what} but found ${this.describe(t)}`);
    return t;
  }

  private string(what: string): string {
    const t = this.next();
    if (t.kind !== 'string') this.fail(t, `expected ${what} in double quotes but found ${this.describe(t)}`);
    return t.text;
  }

  private ip(what: string): number {
    const t = this.next();
    const n = t.kind === 'word' ? parseIpv4(t.text) : undefined;
    if (n === undefined) this.fail(t, `expected ${what} as an IPv4 address (a.b.c.d) but found ${this.describe(t)}; host names are not resolved`);
    return n;
  }

  private integer(what: string, min: number, max: number): number {
    const t = this.next();
    const n = t.kind === 'word' && /^\d+$/.test(t.text) ? Number(t.text) : NaN;
    if (!(n >= min && n <= max)) this.fail(t, `expected ${what}, a whole number from ${min} to ${max}, but found ${this.describe(t)}`);
    return n;
  }

  private end(): void {
    this.expect(';');
  }

  // ------------------------------------------------------------ blocks

  private block(scope: Scope): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        if (scope.kind !== 'global') this.fail(t, `the ${scope.kind} block opened at line ${scope.pos.line} is not closed: add "}"`);
        return;
      }
      if (t.kind === 'punct' && t.text === '}') {
        if (scope.kind === 'global') this.fail(t, 'unexpected "}": no block is open here');
        this.next();
        return;
      }
      this.statement(scope);
    }
  }

  private child(kind: ScopeKind, name: string, parent: Scope, pos: Position): Scope {
    return { kind, name, parent, params: emptyParams(), pos };
  }

  private only(t: Token, scope: Scope, kinds: ScopeKind[]): void {
    if (!kinds.includes(scope.kind)) {
      this.fail(t, `"${t.text}" is not allowed inside a ${scope.kind} ${scope.kind === 'global' ? 'scope' : 'block'}; it belongs in ${kinds.join(' or ')}`);
    }
  }

  private statement(scope: Scope): void {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, `expected a statement but found ${this.describe(t)}`);
    const p = scope.params;
    const kw = t.text.toLowerCase();
    switch (kw) {
      case 'ddns-update-style': {
        const v = this.word('none, interim or ad-hoc');
        if (v.text.toLowerCase() !== 'none') this.fail(v, `ddns-update-style ${v.text}: netboot does no dynamic DNS updates; write "ddns-update-style none;"`);
        return this.end();
      }
      case 'option':
        return this.option(scope);
      case 'next-server':
        p.nextServer = this.ip('the TFTP server address');
        return this.end();
      case 'filename':
        p.filename = this.string('the boot file name');
        if (Buffer.byteLength(p.filename, 'latin1') > 127) this.fail(t, 'filename is longer than the 128-byte BOOTP file field allows');
        return this.end();
      case 'server-name':
        p.serverName = this.string('the server name');
        if (Buffer.byteLength(p.serverName, 'latin1') > 63) this.fail(t, 'server-name is longer than the 64-byte BOOTP sname field allows');
        return this.end();
      case 'default-lease-time':
        p.defaultLeaseTime = this.integer('a lease time in seconds', 1, 0xfffffffe);
        return this.end();
      case 'max-lease-time':
        p.maxLeaseTime = this.integer('a lease time in seconds', 1, 0xfffffffe);
        return this.end();
      case 'authoritative':
        p.authoritative = true;
        return this.end();
      case 'not':
        this.keyword('authoritative');
        p.authoritative = false;
        return this.end();
      case 'vendor-option-space': {
        const n = this.word('an option space name');
        if (!this.spaces.has(n.text)) this.fail(n, `option space "${n.text}" is not declared; add "option space ${n.text};" before it`);
        p.vendorOptionSpace = n.text;
        return this.end();
      }
      case 'allow':
      case 'deny': {
        const what = this.keyword('unknown-clients', 'bootp', 'booting');
        const on = kw === 'allow';
        const w = what.text.toLowerCase();
        if (w === 'unknown-clients') p.allowUnknownClients = on;
        else if (w === 'bootp') p.allowBootp = on;
        else if (!on) this.fail(what, '"deny booting" is not supported; remove the host declaration instead');
        return this.end();
      }
      case 'use-host-decl-names': {
        const v = this.keyword('on', 'off', 'true', 'false');
        p.useHostDeclNames = v.text === 'on' || v.text === 'true';
        return this.end();
      }
      case 'shared-network': {
        this.only(t, scope, ['global']);
        const n = this.name('a shared-network name');
        this.expect('{');
        this.block(this.child('shared-network', n.text, scope, t.pos));
        return;
      }
      case 'subnet':
        return this.subnet(t, scope);
      case 'range':
        return this.range(t, scope);
      case 'group': {
        this.only(t, scope, ['global', 'shared-network', 'subnet', 'group']);
        this.expect('{');
        this.block(this.child('group', 'group', scope, t.pos));
        return;
      }
      case 'host':
        return this.host(t, scope);
      case 'hardware':
      case 'fixed-address':
        return this.fail(t, `"${t.text}" belongs inside a host block`);
      case 'class':
        return this.classDecl(t, scope);
      case 'match':
        return this.fail(t, '"match" belongs inside a class block');
      default:
        this.fail(t, `"${t.text}" is not in the dhcpd.conf subset netboot reads (${SUPPORTED}); remove it or move that setting elsewhere`);
    }
  }

  private subnet(t: Token, scope: Scope): void {
    this.only(t, scope, ['global', 'shared-network']);
    const network = this.ip('the subnet number');
    this.keyword('netmask');
    const maskTok = this.peek();
    const mask = this.ip('the netmask');
    if (mask !== 0 && ((~mask >>> 0) & ((~mask >>> 0) + 1)) !== 0) this.fail(maskTok, `${formatIpv4(mask)} is not a netmask (its one bits must be contiguous)`);
    if (((network & ~mask) >>> 0) !== 0) this.fail(t, `${formatIpv4(network)} has host bits set for netmask ${formatIpv4(mask)}`);
    this.expect('{');
    const s = this.child('subnet', formatIpv4(network), scope, t.pos);
    const subnet: Subnet = {
      index: this.subnets.length,
      network,
      mask,
      label: scope.kind === 'shared-network' ? scope.name : formatIpv4(network),
      ranges: [],
      scope: s,
    };
    this.subnets.push(subnet);
    this.block(s);
  }

  private range(t: Token, scope: Scope): void {
    this.only(t, scope, ['subnet']);
    let dynamicBootp = false;
    const first = this.peek();
    if (first.kind === 'word' && first.text.toLowerCase() === 'dynamic-bootp') {
      this.next();
      dynamicBootp = true;
    }
    const start = this.ip('the first address of the range');
    const end = this.peek().kind === 'word' ? this.ip('the last address of the range') : start;
    this.end();
    if (end < start) this.fail(t, `range ${formatIpv4(start)} ${formatIpv4(end)} ends before it starts`);
    const subnet = this.subnets[this.subnets.length - 1];
    for (const a of [start, end]) {
      if (!inSubnet(a, subnet.network, subnet.mask)) this.fail(t, `range address ${formatIpv4(a)} is outside subnet ${formatIpv4(subnet.network)} netmask ${formatIpv4(subnet.mask)}`);
    }
    subnet.ranges.push({ start, end, dynamicBootp });
  }

  private host(t: Token, scope: Scope): void {
    this.only(t, scope, ['global', 'shared-network', 'subnet', 'group']);
    const n = this.name('a host name');
    this.expect('{');
    const s = this.child('host', n.text, scope, t.pos);
    const host: Host = { index: this.hosts.length, name: n.text, fixedAddresses: [], scope: s };
    for (;;) {
      const k = this.peek();
      if (k.kind === 'punct' && k.text === '}') {
        this.next();
        break;
      }
      if (k.kind === 'eof') this.fail(k, `the host block "${n.text}" opened at line ${t.pos.line} is not closed: add "}"`);
      if (k.kind === 'word' && k.text.toLowerCase() === 'hardware') {
        this.next();
        const type = this.word('"ethernet"');
        if (type.text.toLowerCase() !== 'ethernet') this.fail(type, `hardware ${type.text}: only "hardware ethernet" is supported`);
        const m = this.word('a MAC address');
        const mac = parseMac(m.text);
        if (!mac || mac.length !== 6) this.fail(m, `expected a MAC address like 00:40:63:c2:ca:c9 but found "${m.text}"`);
        host.mac = [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
        this.end();
      } else if (k.kind === 'word' && k.text.toLowerCase() === 'fixed-address') {
        this.next();
        do host.fixedAddresses.push(this.ip('a fixed address'));
        while (this.accept(','));
        this.end();
      } else if (k.kind === 'word' && ['host', 'group', 'subnet', 'shared-network', 'class', 'range'].includes(k.text.toLowerCase())) {
        this.fail(k, `"${k.text}" is not allowed inside a host block`);
      } else {
        this.statement(s);
      }
    }
    this.hosts.push(host);
  }

  private classDecl(t: Token, scope: Scope): void {
    this.only(t, scope, ['global', 'shared-network', 'subnet', 'group']);
    const n = this.name('a class name');
    this.expect('{');
    const s = this.child('class', n.text, scope, t.pos);
    const decl: ClassDecl = { index: this.classes.length, name: n.text, scope: s };
    for (;;) {
      const k = this.peek();
      if (k.kind === 'punct' && k.text === '}') {
        this.next();
        break;
      }
      if (k.kind === 'eof') this.fail(k, `the class block "${n.text}" opened at line ${t.pos.line} is not closed: add "}"`);
      if (k.kind === 'word' && k.text.toLowerCase() === 'match') {
        this.next();
        if (decl.match) this.fail(k, `class "${n.text}" already has a match statement`);
        decl.match = this.matchExpr();
      } else if (k.kind === 'word' && ['host', 'group', 'subnet', 'shared-network', 'class', 'range'].includes(k.text.toLowerCase())) {
        this.fail(k, `"${k.text}" is not allowed inside a class block`);
      } else {
        this.statement(s);
      }
    }
    if (!decl.match) this.fail(t, `class "${n.text}" has no "match if ...;" statement, so no client would ever be in it`);
    this.classes.push(decl);
  }

  /** `if substring(option NAME, START, LEN) = "text";` or `if option NAME = value;` */
  private matchExpr(): ClassMatch {
    this.keyword('if');
    const t = this.word('substring(...) or option');
    if (t.text.toLowerCase() === 'substring') {
      this.expect('(');
      this.keyword('option');
      const def = this.optionRef();
      this.expect(',');
      const start = this.integer('the substring start', 0, 65535);
      this.expect(',');
      const length = this.integer('the substring length', 0, 65535);
      this.expect(')');
      this.expect('=');
      const v = this.next();
      let equals: Buffer;
      if (v.kind === 'string') equals = Buffer.from(v.text, 'latin1');
      else if (v.kind === 'word' && /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(v.text)) equals = Buffer.from(v.text.split(':').map((h) => parseInt(h, 16)));
      else this.fail(v, `expected a quoted string or hex bytes (aa:bb) to compare with, found ${this.describe(v)}`);
      this.end();
      return { kind: 'substring', code: def.def.code, start, length, equals };
    }
    if (t.text.toLowerCase() === 'option') {
      const def = this.optionRef();
      this.expect('=');
      const v = this.peek();
      let equals: Buffer;
      if (v.kind === 'word' && v.text.includes(':') && /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})+$/.test(v.text)) {
        this.next();
        equals = Buffer.from(v.text.split(':').map((h) => parseInt(h, 16)));
      } else equals = this.optionData(def.def, def.space);
      this.end();
      return { kind: 'equals', code: def.def.code, equals };
    }
    this.fail(t, `"match if ${t.text}" is not supported; use "match if substring(option NAME, START, LENGTH) = \\"text\\";" or "match if option NAME = VALUE;"`);
  }

  /** An option name in the dhcp space (or `dhcp.name`), for match expressions. */
  private optionRef(): { def: OptionDef; space: string } {
    const n = this.word('an option name');
    const r = this.lookup(n);
    if (r.space !== 'dhcp') this.fail(n, `only options of the DHCP message itself can be matched, not ${r.space}.${r.def.name}`);
    return r;
  }

  private lookup(n: Token): { def: OptionDef; space: string } {
    const dot = n.text.indexOf('.');
    const spaceName = dot > 0 ? n.text.slice(0, dot) : 'dhcp';
    const optName = dot > 0 ? n.text.slice(dot + 1) : n.text;
    const space = this.spaces.get(spaceName);
    if (!space) this.fail(n, `option space "${spaceName}" is not declared; add "option space ${spaceName};" first`);
    const def = space.named(optName);
    if (!def) {
      this.fail(n, `unknown option "${n.text}"; define it first with "option ${n.text} code N = TYPE;"`);
    }
    return { def, space: spaceName };
  }

  // ------------------------------------------------------------ options

  private option(scope: Scope): void {
    const n = this.word('an option name');
    if (n.text.toLowerCase() === 'space') {
      const s = this.word('an option space name');
      if (!this.spaces.has(s.text)) this.spaces.set(s.text, new OptionSpace(s.text));
      const extra = this.peek();
      if (extra.kind === 'word') this.fail(extra, `"option space ${s.text} ${extra.text}": code width and length width settings are not supported`);
      return this.end();
    }
    const after = this.peek();
    if (after.kind === 'word' && after.text.toLowerCase() === 'code') {
      this.next();
      return this.define(n);
    }
    const { def, space } = this.lookup(n);
    if (def.type.kind === 'encapsulate') this.fail(n, `option ${n.text} is built from the options of space "${def.type.space}"; set those instead`);
    const data = this.optionData(def, space);
    this.end();
    scope.params.options.set(`${space}.${def.code}`, { space, code: def.code, name: def.name, data });
  }

  private define(n: Token): void {
    const dot = n.text.indexOf('.');
    const spaceName = dot > 0 ? n.text.slice(0, dot) : 'dhcp';
    const optName = dot > 0 ? n.text.slice(dot + 1) : n.text;
    const space = this.spaces.get(spaceName);
    if (!space) this.fail(n, `option space "${spaceName}" is not declared; add "option space ${spaceName};" first`);
    const code = this.integer('the option code', 1, 254);
    this.expect('=');
    const type = this.type();
    this.end();
    space.define({ code, name: optName, type });
  }

  private type(): OptionType {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '{') {
      this.next();
      const fields: OptionType[] = [];
      do fields.push(this.type());
      while (this.accept(','));
      this.expect('}');
      for (let k = 0; k < fields.length - 1; k++) {
        if (fixedSize(fields[k]) === undefined) this.fail(t, 'only the last field of a record may be text or string');
      }
      return { kind: 'record', fields };
    }
    const w = this.word('an option type');
    switch (w.text.toLowerCase()) {
      case 'ip-address':
        return { kind: 'ip' };
      case 'text':
        return { kind: 'text' };
      case 'string':
        return { kind: 'bytes' };
      case 'boolean':
        return { kind: 'bool' };
      case 'unsigned':
      case 'signed': {
        this.keyword('integer');
        const bits = this.word('8, 16 or 32');
        if (!['8', '16', '32'].includes(bits.text)) this.fail(bits, `integer width must be 8, 16 or 32, not ${bits.text}`);
        return { kind: `${w.text.toLowerCase() === 'unsigned' ? 'u' : 'i'}${bits.text}` as 'u8' };
      }
      case 'integer': {
        const bits = this.word('8, 16 or 32');
        if (!['8', '16', '32'].includes(bits.text)) this.fail(bits, `integer width must be 8, 16 or 32, not ${bits.text}`);
        return { kind: `i${bits.text}` as 'i8' };
      }
      case 'array': {
        this.keyword('of');
        const of = this.type();
        if (fixedSize(of) === undefined) this.fail(w, 'arrays of text or string are not supported');
        return { kind: 'array', of };
      }
      case 'encapsulate': {
        const s = this.word('an option space name');
        if (!this.spaces.has(s.text)) this.fail(s, `option space "${s.text}" is not declared`);
        return { kind: 'encapsulate', space: s.text };
      }
      default:
        this.fail(w, `unknown option type "${w.text}"; use ip-address, unsigned integer 8/16/32, signed integer 8/16/32, text, string, boolean, array of TYPE or { TYPE, ... }`);
    }
  }

  private value(type: OptionType): OptionValue {
    const t = this.next();
    switch (type.kind) {
      case 'ip': {
        const n = t.kind === 'word' ? parseIpv4(t.text) : undefined;
        if (n === undefined) this.fail(t, `expected an IPv4 address but found ${this.describe(t)}; host names are not resolved`);
        return t.text;
      }
      case 'u8':
      case 'u16':
      case 'u32':
      case 'i8':
      case 'i16':
      case 'i32': {
        if (t.kind !== 'word' || !/^-?\d+$/.test(t.text)) this.fail(t, `expected ${typeName(type)} but found ${this.describe(t)}`);
        return Number(t.text);
      }
      case 'bool': {
        const v = t.text.toLowerCase();
        if (t.kind !== 'word' || !['true', 'false', 'on', 'off'].includes(v)) this.fail(t, `expected true or false but found ${this.describe(t)}`);
        return v === 'true' || v === 'on';
      }
      case 'text':
        if (t.kind !== 'string') this.fail(t, `expected text in double quotes but found ${this.describe(t)}`);
        return t.text;
      case 'bytes':
        if (t.kind === 'string') return Buffer.from(t.text, 'latin1');
        if (t.kind === 'word' && /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(t.text)) return Buffer.from(t.text.split(':').map((h) => parseInt(h, 16)));
        return this.fail(t, `expected a quoted string or hex bytes (aa:bb:cc) but found ${this.describe(t)}`);
      default:
        this.fail(t, `values of type ${typeName(type)} cannot be written here`);
    }
  }

  private optionData(def: OptionDef, space: string): Buffer {
    const start = this.peek();
    let value: OptionValue;
    const type = def.type;
    if (type.kind === 'array') {
      const list: OptionValue[] = [];
      do list.push(this.elementValue(type.of));
      while (this.accept(','));
      value = list;
    } else if (type.kind === 'record') {
      value = this.recordValue(type);
    } else value = this.value(type);
    try {
      return encodeOptionValue(type, value, `${space}.${def.name}`);
    } catch (e) {
      if (e instanceof DhcpWireError) this.fail(start, `option ${space === 'dhcp' ? '' : `${space}.`}${def.name}: ${e.message.replace(/^.*?: /, '')}`);
      throw e;
    }
  }

  private elementValue(type: OptionType): OptionValue {
    return type.kind === 'record' ? this.recordValue(type) : this.value(type);
  }

  private recordValue(type: Extract<OptionType, { kind: 'record' }>): OptionValue[] {
    const out: OptionValue[] = [];
    for (let k = 0; k < type.fields.length; k++) {
      if (k > 0) this.accept(',');
      out.push(this.value(type.fields[k]));
    }
    return out;
  }
}
