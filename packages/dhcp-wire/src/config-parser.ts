import { tokenize, type Position, type Token } from './config-lexer.js';
import { TokenCursor } from './config-token-cursor.js';
import { parseBooleanExpression } from './config-expression-parser.js';
import {
  type ClassDecl,
  type DhcpConfig,
  type Host,
  type ParamName,
  type Params,
  type Statement,
  type Scope,
  type ScopeKind,
  type Subnet,
} from './config-model.js';
import { DhcpWireError } from './dhcp-wire-error.js';
import { formatIpv4, inSubnet, parseIpv4, parseMac } from './ipv4.js';
import { builtinSpaces, OptionSpace, type OptionDef } from './option-space.js';
import { encodeOptionValue, fixedSize, typeName, type OptionType, type OptionValue } from './option-value.js';

/** Statements that declare (read once with the file) rather than execute per packet. */
const DECLARATIONS = new Set([
  'ddns-update-style', 'authoritative', 'not', 'shared-network', 'subnet', 'range', 'group', 'host', 'hardware', 'fixed-address', 'class', 'match',
]);

const SUPPORTED =
  'ddns-update-style, option, option space, option X.y code N = type, next-server, filename, server-name, ' +
  'default-lease-time, max-lease-time, authoritative, vendor-option-space, allow/deny unknown-clients|bootp|booting, ' +
  'use-host-decl-names, shared-network, subnet, range, group, host, hardware ethernet, fixed-address, class, match if, ' +
  'if/elsif/else';

/** Parses the subset of ISC dhcpd.conf that diskless setups use; anything else is a ConfigError with file:line:column. */
export function parseConfig(text: string, file = 'dhcpd.conf'): DhcpConfig {
  return new Parser(tokenize(text, file), file).parse();
}

class Parser extends TokenCursor {
  private readonly spaces = builtinSpaces();
  private readonly subnets: Subnet[] = [];
  private readonly hosts: Host[] = [];
  private readonly classes: ClassDecl[] = [];
  private readonly global: Scope;
  private conditional = false;

  constructor(
    tokens: Token[],
    private readonly file: string,
  ) {
    super(tokens);
    this.global = { kind: 'global', name: 'global', statements: [], pos: { file, line: 1, column: 1 } };
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
      conditional: this.conditional,
    };
  }

  // ------------------------------------------------------------ tokens

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
    return { kind, name, parent, statements: [], pos };
  }

  private only(t: Token, scope: Scope, kinds: ScopeKind[]): void {
    if (!kinds.includes(scope.kind)) {
      this.fail(t, `"${t.text}" is not allowed inside a ${scope.kind} ${scope.kind === 'global' ? 'scope' : 'block'}; it belongs in ${kinds.join(' or ')}`);
    }
  }

  /**
   * One statement of `scope`, appended to `into` (the scope's own list, or the
   * body of an `if` in it). Inside an `if` only what dhcpd executes per packet
   * is allowed; declarations are fixed when the file is read.
   */
  private statement(scope: Scope, into: Statement[] = scope.statements, inIf = false): void {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, `expected a statement but found ${this.describe(t)}`);
    const kw = t.text.toLowerCase();
    const set = <N extends ParamName>(name: N, value: Params[N]) => into.push({ kind: 'param', name, value });
    if (inIf && DECLARATIONS.has(kw)) {
      this.fail(t, `"${t.text}" cannot be inside an if block: dhcpd reads it once, when the file is read, not per client; move it out of the if (inside one: option, filename, next-server, server-name, lease times, allow/deny, if)`);
    }
    switch (kw) {
      case 'ddns-update-style': {
        const v = this.word('none, interim or ad-hoc');
        if (v.text.toLowerCase() !== 'none') this.fail(v, `ddns-update-style ${v.text}: netboot does no dynamic DNS updates; write "ddns-update-style none;"`);
        return this.end();
      }
      case 'option':
        return this.option(into, inIf);
      case 'next-server':
        set('nextServer', this.ip('the TFTP server address'));
        return this.end();
      case 'filename': {
        const name = this.string('the boot file name');
        // Up to 127 bytes go in the BOOTP file field; longer names (URLs) in option 67 alone, which holds 255.
        if (Buffer.byteLength(name, 'latin1') > 255) this.fail(t, 'filename is longer than the 255 bytes option 67 can carry');
        set('filename', name);
        return this.end();
      }
      case 'server-name': {
        const name = this.string('the server name');
        if (Buffer.byteLength(name, 'latin1') > 63) this.fail(t, 'server-name is longer than the 64-byte BOOTP sname field allows');
        set('serverName', name);
        return this.end();
      }
      case 'default-lease-time':
        set('defaultLeaseTime', this.integer('a lease time in seconds', 1, 0xfffffffe));
        return this.end();
      case 'max-lease-time':
        set('maxLeaseTime', this.integer('a lease time in seconds', 1, 0xfffffffe));
        return this.end();
      case 'authoritative':
        set('authoritative', true);
        return this.end();
      case 'not':
        this.keyword('authoritative');
        set('authoritative', false);
        return this.end();
      case 'vendor-option-space': {
        const n = this.word('an option space name');
        if (!this.spaces.has(n.text)) this.fail(n, `option space "${n.text}" is not declared; add "option space ${n.text};" before it`);
        set('vendorOptionSpace', n.text);
        return this.end();
      }
      case 'allow':
      case 'deny': {
        const what = this.keyword('unknown-clients', 'bootp', 'booting');
        const on = kw === 'allow';
        const w = what.text.toLowerCase();
        if (w === 'unknown-clients') set('allowUnknownClients', on);
        else if (w === 'bootp') set('allowBootp', on);
        else if (!on) this.fail(what, '"deny booting" is not supported; remove the host declaration instead');
        return this.end();
      }
      case 'use-host-decl-names': {
        const v = this.keyword('on', 'off', 'true', 'false');
        set('useHostDeclNames', v.text === 'on' || v.text === 'true');
        return this.end();
      }
      case 'if':
        return this.ifStatement(t, scope, into);
      case 'elsif':
      case 'else':
        return this.fail(t, `"${t.text}" without an if before it: it must follow the "}" of an if block`);
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

  /** `if EXPR { ... } [elsif EXPR { ... }]... [else { ... }]`, with `else if` read as `elsif`. */
  private ifStatement(t: Token, scope: Scope, into: Statement[]): void {
    this.conditional = true;
    const stmt: Statement = { kind: 'if', pos: t.pos, branches: [], otherwise: [] };
    for (;;) {
      const test = parseBooleanExpression(this, (n) => this.lookup(n));
      const body: Statement[] = [];
      this.ifBody(scope, body, t);
      stmt.branches.push({ test, body });
      if (this.isWord('elsif')) {
        this.next();
        continue;
      }
      if (this.isWord('else')) {
        this.next();
        if (this.isWord('if')) {
          this.next();
          continue;
        }
        this.ifBody(scope, stmt.otherwise, t);
      }
      break;
    }
    into.push(stmt);
  }

  private ifBody(scope: Scope, into: Statement[], opened: Token): void {
    this.expect('{');
    for (;;) {
      const k = this.peek();
      if (k.kind === 'punct' && k.text === '}') {
        this.next();
        return;
      }
      if (k.kind === 'eof') this.fail(k, `the if block opened at line ${opened.pos.line} is not closed: add "}"`);
      this.statement(scope, into, true);
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
        if (!this.isWord('if')) this.fail(this.peek(), `expected "match if EXPRESSION;" (spawning subclasses with "match EXPRESSION;" is not supported) but found ${this.describe(this.peek())}`);
        this.next();
        decl.match = parseBooleanExpression(this, (o) => this.lookup(o));
        this.end();
      } else if (k.kind === 'word' && ['host', 'group', 'subnet', 'shared-network', 'class', 'range'].includes(k.text.toLowerCase())) {
        this.fail(k, `"${k.text}" is not allowed inside a class block`);
      } else {
        this.statement(s);
      }
    }
    if (!decl.match) this.fail(t, `class "${n.text}" has no "match if ...;" statement, so no client would ever be in it`);
    this.classes.push(decl);
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

  private option(into: Statement[], inIf: boolean): void {
    const n = this.word('an option name');
    const after = this.peek();
    const defining = n.text.toLowerCase() === 'space' || (after.kind === 'word' && after.text.toLowerCase() === 'code');
    if (defining && inIf) this.fail(n, 'option spaces and option definitions cannot be inside an if block: declare them at the top of the file');
    if (n.text.toLowerCase() === 'space') {
      const s = this.word('an option space name');
      if (!this.spaces.has(s.text)) this.spaces.set(s.text, new OptionSpace(s.text));
      const extra = this.peek();
      if (extra.kind === 'word') this.fail(extra, `"option space ${s.text} ${extra.text}": code width and length width settings are not supported`);
      return this.end();
    }
    if (defining) {
      this.next();
      return this.define(n);
    }
    const { def, space } = this.lookup(n);
    if (def.type.kind === 'encapsulate') this.fail(n, `option ${n.text} is built from the options of space "${def.type.space}"; set those instead`);
    const data = this.optionData(def, space);
    this.end();
    into.push({ kind: 'option', option: { space, code: def.code, name: def.name, data } });
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
