import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { tokenize, type Position, type Token } from './config-lexer.js';
import { TokenCursor } from './config-token-cursor.js';
import { parseAnyExpression, parseBooleanExpression, parseDataExpression } from './config-expression-parser.js';
import {
  type ClassDecl,
  type DhcpConfig,
  type HookEvent,
  type Host,
  type IgnoredStatement,
  type ParamName,
  type Params,
  type PendingName,
  type Pool,
  type PoolMember,
  type Statement,
  type Scope,
  type ScopeKind,
  type Subnet,
} from './config-model.js';
import { NO_EFFECT, NO_EFFECT_PERMITS } from './config-no-effect.js';
import { UNSUPPORTED } from './config-unsupported.js';
import { DhcpWireError } from './dhcp-wire-error.js';
import { formatIpv4, inSubnet, parseIpv4, parseMac } from './ipv4.js';
import { builtinSpaces, OptionSpace, type OptionDef } from './option-space.js';
import { encodeDomainList, encodeOptionValue, fixedSize, typeName, type OptionType, type OptionValue } from './option-value.js';

/** Statements that declare (read once with the file) rather than execute per packet. */
const DECLARATIONS = new Set([
  'authoritative', 'not', 'shared-network', 'subnet', 'range', 'pool', 'group', 'host', 'hardware', 'fixed-address', 'class', 'match', 'include',
]);

/** Lease times dhcpd reads as "never ends". */
const INFINITE = 0xffffffff;

/** Option 119, whose value is a list of domain names in DNS wire form. */
const DOMAIN_SEARCH = 119;

/** A host name as dhcpd takes one where an address goes. */
const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_-]+)*\.?$/;

/** What dhcpd reads as an unquoted text value: one name, up to the first character that is not a letter, digit, - or _. */
const BARE_TEXT = /^[A-Za-z0-9_-]+$/;

/** Includes deeper than this are refused (a cycle is refused at once; this bounds long chains). */
const MAX_INCLUDE_DEPTH = 16;

export interface ParseOptions {
  /** Reads an `include`d file; the default reads it from disk. */
  readFile?: (path: string) => string;
}

/**
 * Parses an ISC dhcpd.conf as dhcpd reads it: what netboot acts on is kept,
 * what has no effect here is listed in `ignored`, and what netboot cannot do
 * is a ConfigError with file:line:column saying what to write instead. Host
 * names written where addresses go are left in `names` for
 * resolveConfigNames (loadConfigFile does both).
 */
export function parseConfig(text: string, file = 'dhcpd.conf', opts: ParseOptions = {}): DhcpConfig {
  return new Parser(tokenize(text, file), file, opts.readFile ?? ((p) => readFileSync(p, 'utf8'))).parse();
}

class Parser extends TokenCursor {
  private readonly spaces = builtinSpaces();
  private readonly subnets: Subnet[] = [];
  private readonly hosts: Host[] = [];
  private readonly classes: ClassDecl[] = [];
  private readonly pools: Pool[] = [];
  private readonly ignored: IgnoredStatement[] = [];
  private readonly names: PendingName[] = [];
  private readonly files: string[];
  /** Files being read, the including ones first: an include of one of them is a cycle. */
  private readonly including: string[];
  private readonly global: Scope;
  private conditional = false;
  private dynamic = false;
  /** How many `on` blocks the parser is inside: `execute` is read only there. */
  private hookDepth = 0;

  constructor(
    tokens: Token[],
    private readonly file: string,
    private readonly readFile: (path: string) => string,
  ) {
    super(tokens);
    this.global = { kind: 'global', name: 'global', statements: [], pos: { file, line: 1, column: 1 } };
    this.files = [file];
    this.including = [resolvePath(file)];
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
      dynamic: this.dynamic,
      pools: this.pools,
      ignored: this.ignored,
      names: this.names,
      files: this.files,
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

  /** Text in double quotes, or one bare name as dhcpd takes it. */
  private text(what: string): string {
    const t = this.next();
    if (t.kind === 'string') return t.text;
    if (t.kind === 'word' && BARE_TEXT.test(t.text)) return t.text;
    this.fail(t, `expected ${what} in double quotes but found ${this.describe(t)}`);
  }

  private ip(what: string): number {
    const t = this.next();
    const n = t.kind === 'word' ? parseIpv4(t.text) : undefined;
    if (n === undefined) this.fail(t, `expected ${what} as an IPv4 address (a.b.c.d) but found ${this.describe(t)}; host names are not resolved`);
    return n;
  }

  /**
   * An address where dhcpd also takes a host name (next-server, fixed-address,
   * ip-address option values): a name is resolved when the file is loaded,
   * and `assign` puts its address in place then.
   */
  private address(what: string, assign: (n: number) => void): number {
    const t = this.next();
    const n = t.kind === 'word' ? parseIpv4(t.text) : undefined;
    if (n !== undefined) return n;
    if (t.kind !== 'word' || !HOST_NAME.test(t.text) || /^[\d.]+$/.test(t.text)) {
      this.fail(t, `expected ${what} as an IPv4 address (a.b.c.d) or a host name but found ${this.describe(t)}`);
    }
    this.names.push({ name: t.text.replace(/\.$/, ''), pos: t.pos, assign });
    return 0;
  }

  private end(): void {
    this.expect(';');
  }

  private ignore(statement: string, at: Token, why: string): void {
    this.ignored.push({ statement, pos: at.pos, why });
  }

  /** Skips the rest of a statement: up to its ";", or through its { } block. */
  private skipStatement(): void {
    let depth = 0;
    for (let n = 0; ; n++) {
      const t = this.next();
      if (t.kind === 'eof') this.fail(t, depth > 0 ? 'a block is not closed: add "}"' : 'expected ";" but found end of file');
      if (t.kind !== 'punct') continue;
      if (t.text === '{') depth++;
      else if (t.text === '}') {
        depth--;
        if (depth === 0) {
          this.accept(';');
          return;
        }
        if (depth < 0) this.fail(t, 'unexpected "}"');
      } else if (t.text === ';' && depth === 0) return;
    }
  }

  /** A lease time: seconds, or -1 / "infinite" for a lease that never ends. */
  private leaseTime(): number {
    const t = this.peek();
    if (t.kind === 'word' && (t.text === '-1' || t.text.toLowerCase() === 'infinite')) {
      this.next();
      return INFINITE;
    }
    return this.integer('a lease time in seconds (or -1 / infinite)', 0, INFINITE);
  }

  private flag(): boolean {
    const v = this.keyword('on', 'off', 'true', 'false');
    return v.text.toLowerCase() === 'on' || v.text.toLowerCase() === 'true';
  }

  /** `include "file";`: its statements are read here, in this scope; a relative path is taken from the including file's directory. */
  private include(t: Token, scope: Scope, into: Statement[], inIf: boolean): void {
    const name = this.string('the file name');
    this.end();
    const from = this.including[this.including.length - 1];
    const path = isAbsolute(name) ? name : resolvePath(dirname(from), name);
    if (this.including.includes(path)) this.fail(t, `include "${name}" includes a file that is already being read (${[...this.including, path].join(' -> ')}); remove the cycle`);
    if (this.including.length > MAX_INCLUDE_DEPTH) this.fail(t, `includes nest deeper than ${MAX_INCLUDE_DEPTH} files`);
    let text: string;
    try {
      text = this.readFile(path);
    } catch (e) {
      this.fail(t, `cannot read included file ${path}: ${(e as Error).message}`);
    }
    const saved = { tokens: this.tokens, i: this.i };
    this.tokens = tokenize(text, path);
    this.i = 0;
    this.including.push(path);
    this.files.push(path);
    try {
      for (;;) {
        const k = this.peek();
        if (k.kind === 'eof') break;
        if (k.kind === 'punct' && k.text === '}') this.fail(k, `unexpected "}": an included file must close the blocks it opens`);
        this.statement(scope, into, inIf);
      }
    } finally {
      this.including.pop();
      this.tokens = saved.tokens;
      this.i = saved.i;
    }
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
      this.fail(t, `"${t.text}" cannot be inside an if block: dhcpd reads it once, when the file is read, not per client; move it out of the if (inside one: option, filename, next-server, server-name, lease times, allow/deny, set, on, if)`);
    }
    switch (kw) {
      case 'include':
        return this.include(t, scope, into, inIf);
      case 'ddns-update-style': {
        const v = this.word('none, interim or ad-hoc');
        if (v.text.toLowerCase() !== 'none') this.ignore(kw, t, NO_EFFECT.get(kw)!);
        return this.end();
      }
      case 'option':
        return this.option(into, inIf);
      case 'supersede':
      case 'default':
        // In a server's file these set an option as "option" does: "supersede host-name = ...;".
        return this.option(into, inIf);
      case 'next-server': {
        if (this.accept('=')) return this.paramExpr('nextServer', t, into);
        const stmt: Statement = { kind: 'param', name: 'nextServer', value: 0 };
        stmt.value = this.address('the TFTP server address', (n) => (stmt.value = n));
        into.push(stmt);
        return this.end();
      }
      case 'filename': {
        if (this.accept('=')) return this.paramExpr('filename', t, into);
        const name = this.string('the boot file name');
        // Up to 127 bytes go in the BOOTP file field; longer names (URLs) in option 67 alone, which holds 255.
        if (Buffer.byteLength(name, 'latin1') > 255) this.fail(t, 'filename is longer than the 255 bytes option 67 can carry');
        set('filename', name);
        return this.end();
      }
      case 'server-name': {
        if (this.accept('=')) return this.paramExpr('serverName', t, into);
        const name = this.text('the server name');
        if (Buffer.byteLength(name, 'latin1') > 63) this.fail(t, 'server-name is longer than the 64-byte BOOTP sname field allows');
        set('serverName', name);
        return this.end();
      }
      case 'default-lease-time':
        set('defaultLeaseTime', this.leaseTime());
        return this.end();
      case 'max-lease-time':
        set('maxLeaseTime', this.leaseTime());
        return this.end();
      case 'min-lease-time':
        set('minLeaseTime', this.leaseTime());
        return this.end();
      case 'authoritative':
        set('authoritative', true);
        return this.end();
      case 'not':
        this.keyword('authoritative');
        set('authoritative', false);
        return this.end();
      case 'vendor-option-space':
      case 'site-option-space': {
        const n = this.name('an option space name');
        if (!this.spaces.has(n.text)) this.fail(n, `option space "${n.text}" is not declared; add "option space ${n.text};" before it`);
        set(kw === 'vendor-option-space' ? 'vendorOptionSpace' : 'siteOptionSpace', n.text);
        return this.end();
      }
      case 'ping-check':
        set('pingCheck', this.flag());
        return this.end();
      case 'ping-timeout':
        set('pingTimeout', this.integer('a ping timeout in seconds', 0, 3600) * 1000);
        return this.end();
      case 'ping-timeout-ms':
        set('pingTimeoutMs', this.integer('a ping timeout in milliseconds', 0, 3_600_000));
        return this.end();
      case 'ignore-client-uids':
        set('ignoreClientUids', this.flag());
        return this.end();
      case 'use-host-decl-names':
        set('useHostDeclNames', this.flag());
        return this.end();
      case 'boot-unknown-clients':
        set('allowUnknownClients', this.flag());
        return this.end();
      case 'allow':
      case 'deny':
      case 'ignore':
        return this.permit(kw, into);
      case 'set': {
        const v = this.word('a variable name');
        this.expect('=');
        this.dynamic = true;
        into.push({ kind: 'set', variable: v.text, expr: parseAnyExpression(this, (n) => this.lookup(n)) });
        return this.end();
      }
      case 'unset': {
        const v = this.word('a variable name');
        into.push({ kind: 'unset', variable: v.text });
        return this.end();
      }
      case 'on':
        return this.on(t, scope, into);
      case 'execute':
        if (this.hookDepth > 0) {
          into.push(this.execute(t));
          return;
        }
        return this.fail(t, 'execute runs a program on a lease event: put it inside "on commit { ... }", "on release { ... }" or "on expiry { ... }"');
      case 'log': {
        this.expect('(');
        const p = this.peek();
        if (p.kind === 'word' && ['fatal', 'error', 'info', 'debug'].includes(p.text.toLowerCase())) {
          this.next();
          this.expect(',');
        }
        this.dynamic = true;
        into.push({ kind: 'log', expr: parseDataExpression(this, (n) => this.lookup(n)) });
        this.expect(')');
        return this.end();
      }
      case 'if':
        return this.ifStatement(t, scope, into);
      case 'elsif':
      case 'else':
        return this.fail(t, `"${t.text}" without an if before it: it must follow the "}" of an if block`);
      case 'shared-network': {
        this.only(t, scope, ['global', 'group']);
        const n = this.name('a shared-network name');
        this.expect('{');
        this.block(this.child('shared-network', n.text, scope, t.pos));
        return;
      }
      case 'subnet':
        return this.subnet(t, scope);
      case 'range':
        return this.range(t, scope);
      case 'pool':
        return this.pool(t, scope);
      case 'group': {
        this.only(t, scope, ['global', 'shared-network', 'subnet', 'group']);
        if (this.peek().kind !== 'punct') this.name('a group name');
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
      case 'failover': {
        this.keyword('peer');
        this.ignore('failover peer', t, NO_EFFECT.get('failover')!);
        return this.skipStatement();
      }
    }
    const why = NO_EFFECT.get(kw);
    if (why !== undefined) {
      this.ignore(kw, t, why);
      return this.skipStatement();
    }
    const instead = UNSUPPORTED.get(kw);
    if (instead !== undefined) this.fail(t, `"${t.text}": ${instead}`);
    this.fail(t, `"${t.text}" is not a dhcpd.conf statement netboot knows; see the grammar netboot reads in @netboot/dhcp-wire's README ("dhcpd.conf: the grammar read")`);
  }

  /** `filename = EXPR;` and the other parameters dhcpd also takes as expressions. */
  private paramExpr(name: 'filename' | 'serverName' | 'nextServer', t: Token, into: Statement[]): void {
    this.dynamic = true;
    into.push({ kind: 'param-expr', name, expr: parseDataExpression(this, (n) => this.lookup(n)), pos: t.pos });
    this.end();
  }

  /** `allow|deny|ignore WHAT;` outside a pool. */
  private permit(kw: string, into: Statement[]): void {
    const what = this.word('what to allow or deny');
    const w = what.text.toLowerCase();
    const on = kw === 'allow';
    if (w === 'unknown-clients') into.push({ kind: 'param', name: 'allowUnknownClients', value: on });
    else if (w === 'bootp') into.push({ kind: 'param', name: 'allowBootp', value: on });
    else if (w === 'booting') {
      if (!on) this.fail(what, `"${kw} booting" is not supported; remove the host declaration, or leave the client out with "deny unknown-clients"`);
    } else if (NO_EFFECT_PERMITS.has(w)) this.ignore(`${kw} ${w}`, what, NO_EFFECT_PERMITS.get(w)!);
    else if (['known-clients', 'known', 'unknown', 'members', 'dynamic', 'all', 'authenticated', 'unauthenticated', 'after'].includes(w)) {
      this.fail(what, `"${kw} ${what.text}" is a pool permit: it belongs inside a pool { } block`);
    } else this.fail(what, `expected unknown-clients, bootp, booting, client-updates, duplicates, declines or leasequery after "${kw}" but found "${what.text}"`);
    this.end();
  }

  /** `on commit|release|expiry [or ...] { statements }`: run on lease events (hooks). */
  private on(t: Token, scope: Scope, into: Statement[]): void {
    this.dynamic = true;
    const events: HookEvent[] = [];
    do {
      const e = this.keyword('commit', 'release', 'expiry');
      events.push(e.text.toLowerCase() as HookEvent);
    } while (this.isWord('or') && this.next());
    const body: Statement[] = [];
    this.expect('{');
    this.hookDepth++;
    try {
      for (;;) {
        const k = this.peek();
        if (k.kind === 'punct' && k.text === '}') {
          this.next();
          break;
        }
        if (k.kind === 'eof') this.fail(k, `the on block opened at line ${t.pos.line} is not closed: add "}"`);
        this.statement(scope, body, true);
      }
    } finally {
      this.hookDepth--;
    }
    into.push({ kind: 'on', events, body, pos: t.pos });
  }

  /** `execute("program", arg, ...);`: the program by path, its arguments as data expressions. */
  private execute(t: Token): Statement {
    this.expect('(');
    const program = this.string('the program to run');
    if (!isAbsolute(program)) this.fail(t, `execute("${program}", ...): give the program's absolute path; it is run without a shell or PATH search`);
    const args = [];
    while (this.accept(',')) args.push(parseDataExpression(this, (n) => this.lookup(n)));
    this.expect(')');
    this.end();
    return { kind: 'execute', program, args, pos: t.pos };
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
    this.only(t, scope, ['global', 'shared-network', 'group']);
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
      label: sharedNetworkOf(scope)?.name ?? formatIpv4(network),
      ranges: [],
      scope: s,
    };
    this.subnets.push(subnet);
    this.block(s);
  }

  private range(t: Token, scope: Scope, pool?: Pool): void {
    this.only(t, scope, pool ? ['pool'] : ['subnet']);
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
    // In a subnet (or a pool in one) the range is that subnet's; a pool in a shared-network takes the subnet holding its addresses.
    const own = scope.kind === 'subnet' || scope.parent?.kind === 'subnet' ? this.subnets.find((s) => s.scope === (scope.kind === 'subnet' ? scope : scope.parent)) : undefined;
    const subnet = own ?? this.subnets.find((s) => inSubnet(start, s.network, s.mask) && sharedNetworkOf(s.scope) === sharedNetworkOf(scope));
    if (!subnet) this.fail(t, `range ${formatIpv4(start)} ${formatIpv4(end)} is in no subnet declared in this shared-network; declare its subnet first`);
    for (const a of [start, end]) {
      if (!inSubnet(a, subnet.network, subnet.mask)) this.fail(t, `range address ${formatIpv4(a)} is outside subnet ${formatIpv4(subnet.network)} netmask ${formatIpv4(subnet.mask)}`);
    }
    subnet.ranges.push({ start, end, dynamicBootp, pool });
  }

  /** `pool { range ...; allow/deny ...; statements }`: addresses with their own permit lists and parameters. */
  private pool(t: Token, scope: Scope): void {
    this.only(t, scope, ['subnet', 'shared-network']);
    this.expect('{');
    const s = this.child('pool', 'pool', scope, t.pos);
    const pool: Pool = { index: this.pools.length, permit: [], prohibit: [], scope: s };
    this.pools.push(pool);
    for (;;) {
      const k = this.peek();
      if (k.kind === 'punct' && k.text === '}') {
        this.next();
        break;
      }
      if (k.kind === 'eof') this.fail(k, `the pool block opened at line ${t.pos.line} is not closed: add "}"`);
      const w = k.kind === 'word' ? k.text.toLowerCase() : '';
      if (w === 'range') {
        this.next();
        this.range(k, s, pool);
      } else if (w === 'allow' || w === 'deny' || w === 'ignore') {
        this.next();
        const member = this.poolMember();
        if (member) (w === 'allow' ? pool.permit : pool.prohibit).push(member);
        this.end();
      } else if (w === 'failover') {
        this.next();
        this.keyword('peer');
        this.ignore('failover peer', k, NO_EFFECT.get('failover')!);
        this.skipStatement();
      } else if (['host', 'group', 'subnet', 'shared-network', 'class', 'pool'].includes(w)) {
        this.fail(k, `"${k.text}" is not allowed inside a pool block`);
      } else this.statement(s);
    }
  }

  /** What a pool's allow/deny names (dhcpd.conf(5), "permit lists"). */
  private poolMember(): PoolMember | undefined {
    const t = this.word('known-clients, unknown-clients, members of "class", dynamic bootp clients, all clients, ...');
    switch (t.text.toLowerCase()) {
      case 'known-clients':
        return { kind: 'known-clients' };
      case 'unknown-clients':
        return { kind: 'unknown-clients' };
      case 'known':
        this.keyword('clients');
        return { kind: 'known-clients' };
      case 'unknown':
        this.keyword('clients');
        return { kind: 'unknown-clients' };
      case 'all':
        this.keyword('clients');
        return { kind: 'all-clients' };
      case 'authenticated':
        this.keyword('clients');
        return { kind: 'authenticated' };
      case 'unauthenticated':
        this.keyword('clients');
        return { kind: 'unauthenticated' };
      case 'dynamic':
        this.keyword('bootp');
        this.keyword('clients');
        return { kind: 'dynamic-bootp' };
      case 'members': {
        this.keyword('of');
        const n = this.name('a class name in double quotes');
        if (!this.classes.some((c) => c.name === n.text)) this.fail(n, `no class "${n.text}" is declared before this pool; declare it first (dhcpd: "no such class")`);
        return { kind: 'class', name: n.text };
      }
      case 'after':
        this.fail(t, '"allow after DATE" is not supported: netboot does not phase pools in by date; put the range in the pool when it should be used');
      // falls through never: fail throws
      default:
        if (NO_EFFECT_PERMITS.has(t.text.toLowerCase())) {
          this.ignore(`pool permit ${t.text}`, t, NO_EFFECT_PERMITS.get(t.text.toLowerCase())!);
          return undefined;
        }
        this.fail(t, `expected known-clients, unknown-clients, members of "class", dynamic bootp clients or all clients but found "${t.text}"`);
    }
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
        if (type.text.toLowerCase() !== 'ethernet') this.fail(type, `hardware ${type.text}: netboot serves Ethernet clients only; write "hardware ethernet MAC;"`);
        const m = this.word('a MAC address');
        const mac = parseMac(m.text);
        if (!mac || mac.length !== 6) this.fail(m, `expected a MAC address like 00:40:63:c2:ca:c9 but found "${m.text}"`);
        host.mac = [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
        this.end();
      } else if (k.kind === 'word' && k.text.toLowerCase() === 'fixed-address') {
        this.next();
        do {
          const at = host.fixedAddresses.length;
          host.fixedAddresses.push(this.address('a fixed address', (n) => (host.fixedAddresses[at] = n)));
        } while (this.accept(','));
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
        if (!this.isWord('if')) this.fail(this.peek(), `"match EXPRESSION;" spawns a subclass per value, which netboot does not do: write one class per value with "match if EXPRESSION = VALUE;"`);
        this.next();
        decl.match = parseBooleanExpression(this, (o) => this.lookup(o));
        this.end();
      } else if (k.kind === 'word' && ['host', 'group', 'subnet', 'shared-network', 'class', 'range'].includes(k.text.toLowerCase())) {
        this.fail(k, `"${k.text}" is not allowed inside a class block`);
      } else if (k.kind === 'word' && ['spawn', 'lease'].includes(k.text.toLowerCase())) {
        this.fail(k, `"${k.text}" (subclass spawning and lease limits per class) is not supported: write one class per value with "match if ...;", and size its pool to limit its leases`);
      } else {
        this.statement(s);
      }
    }
    if (!decl.match) this.fail(t, `class "${n.text}" has no "match if ...;" statement, so no client would ever be in it`);
    this.classes.push(decl);
  }

  private lookup(n: Token): { def: OptionDef; space: string; container?: number } {
    const dot = n.text.indexOf('.');
    const spaceName = dot > 0 ? n.text.slice(0, dot) : 'dhcp';
    const optName = dot > 0 ? n.text.slice(dot + 1) : n.text;
    const space = this.spaces.get(spaceName);
    if (!space) this.fail(n, `option space "${spaceName}" is not declared; add "option space ${spaceName};" first`);
    const def = space.named(optName);
    if (!def) {
      this.fail(n, `unknown option "${n.text}"; define it first with "option ${n.text} code N = TYPE;"`);
    }
    // A space some DHCP option encapsulates (iPXE's 175, ...): its sub-options are read from that option in the packet.
    let container: number | undefined;
    if (spaceName !== 'dhcp') {
      for (const d of this.spaces.get('dhcp')!.defs()) if (d.type.kind === 'encapsulate' && d.type.space === spaceName) container = d.code;
    }
    return { def, space: spaceName, container };
  }

  // ------------------------------------------------------------ options

  private option(into: Statement[], inIf: boolean): void {
    const n = this.word('an option name');
    const after = this.peek();
    const defining = n.text.toLowerCase() === 'space' || (after.kind === 'word' && after.text.toLowerCase() === 'code');
    if (defining && inIf) this.fail(n, 'option spaces and option definitions cannot be inside an if block: declare them at the top of the file');
    if (n.text.toLowerCase() === 'space') {
      const s = this.name('an option space name');
      if (!this.spaces.has(s.text)) this.spaces.set(s.text, new OptionSpace(s.text));
      this.spaceFormat(s.text);
      return this.end();
    }
    if (defining) {
      this.next();
      return this.define(n);
    }
    if (n.text.toLowerCase().startsWith('server.')) return this.serverOption(n, into);
    const { def, space } = this.lookup(n);
    if (space === 'dhcp' && def.code === DOMAIN_SEARCH && this.peek().kind === 'string') {
      const names: string[] = [];
      do names.push(this.string('a domain name'));
      while (this.accept(','));
      this.end();
      into.push({ kind: 'option', option: { space, code: def.code, name: def.name, data: encodeDomainList(names) } });
      return;
    }
    if (this.accept('=')) {
      this.dynamic = true;
      const expr = parseDataExpression(this, (o) => this.lookup(o));
      this.end();
      into.push({ kind: 'option-expr', space, code: def.code, name: def.name, type: def.type, expr, pos: n.pos });
      return;
    }
    if (def.type.kind === 'encapsulate') this.fail(n, `option ${n.text} is built from the options of space "${def.type.space}"; set those instead`);
    const data = this.optionData(def, space);
    this.end();
    into.push({ kind: 'option', option: { space, code: def.code, name: def.name, data } });
  }

  /**
   * `option server.NAME ...` / `supersede server.NAME = ...`: dhcpd's server
   * parameters written as options of its "server" space: the statement of that
   * name, read as if written plainly.
   */
  private serverOption(n: Token, into: Statement[]): void {
    const name = n.text.slice('server.'.length).toLowerCase();
    const params: Record<string, 'filename' | 'nextServer' | 'serverName' | undefined> = { filename: 'filename', 'next-server': 'nextServer', 'server-name': 'serverName' };
    const param = params[name];
    if (param) {
      if (this.accept('=')) return this.paramExpr(param, n, into);
      if (param === 'nextServer') {
        const stmt: Statement = { kind: 'param', name: 'nextServer', value: 0 };
        stmt.value = this.address('the TFTP server address', (a) => (stmt.value = a));
        into.push(stmt);
      } else into.push({ kind: 'param', name: param, value: this.text(`the ${name}`) });
      return this.end();
    }
    const why = NO_EFFECT.get(name);
    if (why !== undefined) {
      this.ignore(name, n, why);
      return this.skipStatement();
    }
    this.fail(n, `"${n.text}": netboot reads server.filename, server.next-server and server.server-name here; write other server parameters as statements ("${name} ...;")`);
  }

  /** `code width 1 length width 1 hash size N`: the only widths DHCPv4 sub-options have; a hash size only tunes dhcpd's tables. */
  private spaceFormat(space: string): void {
    for (;;) {
      const k = this.peek();
      if (k.kind !== 'word') return;
      const w = k.text.toLowerCase();
      this.next();
      if (w === 'hash') {
        this.keyword('size');
        this.integer('a hash size', 1, 0xffff);
      } else if (w === 'code' || w === 'length') {
        this.keyword('width');
        const width = this.integer('a width in bytes', 0, 4);
        if (width !== 1) this.fail(k, `option space ${space}: ${w} width ${width} is not supported; DHCPv4 sub-options use ${w} width 1`);
      } else this.fail(k, `expected "code width", "length width" or "hash size" after "option space ${space}" but found "${k.text}"`);
    }
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

  /** Offsets in the option being read where a host name's address goes, once resolved. */
  private namedSlots: { name: string; pos: Position; at: number }[] = [];

  private value(type: OptionType, at = -1): OptionValue {
    const t = this.next();
    switch (type.kind) {
      case 'ip': {
        const n = t.kind === 'word' ? parseIpv4(t.text) : undefined;
        if (n !== undefined) return t.text;
        if (t.kind !== 'word' || !HOST_NAME.test(t.text) || /^[\d.]+$/.test(t.text) || at < 0) {
          this.fail(t, `expected an IPv4 address or a host name but found ${this.describe(t)}`);
        }
        this.namedSlots.push({ name: t.text.replace(/\.$/, ''), pos: t.pos, at });
        return '0.0.0.0';
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
        if (t.kind === 'string') return t.text;
        if (t.kind === 'word' && BARE_TEXT.test(t.text)) return t.text;
        if (t.kind === 'word') this.fail(t, `write ${t.text} in double quotes: "${t.text}" (dhcpd reads unquoted text only up to the first character other than a letter, digit, - or _)`);
        this.fail(t, `expected text in double quotes but found ${this.describe(t)}`);
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
    this.namedSlots = [];
    if (type.kind === 'array') {
      const list: OptionValue[] = [];
      const size = fixedSize(type.of) ?? 0;
      do list.push(this.elementValue(type.of, list.length * size));
      while (this.accept(','));
      value = list;
    } else if (type.kind === 'record') {
      value = this.recordValue(type, 0);
    } else value = this.value(type, 0);
    let data: Buffer;
    try {
      data = encodeOptionValue(type, value, `${space}.${def.name}`);
    } catch (e) {
      if (e instanceof DhcpWireError) this.fail(start, `option ${space === 'dhcp' ? '' : `${space}.`}${def.name}: ${e.message.replace(/^.*?: /, '')}`);
      throw e;
    }
    for (const slot of this.namedSlots) this.names.push({ name: slot.name, pos: slot.pos, assign: (n) => data.writeUInt32BE(n >>> 0, slot.at) });
    return data;
  }

  private elementValue(type: OptionType, at: number): OptionValue {
    return type.kind === 'record' ? this.recordValue(type, at) : this.value(type, at);
  }

  /** A record's fields; `at` is where it starts in the option, so an address field's offset is known while it is fixed-size so far. */
  private recordValue(type: Extract<OptionType, { kind: 'record' }>, at: number): OptionValue[] {
    const out: OptionValue[] = [];
    for (let k = 0; k < type.fields.length; k++) {
      if (k > 0) this.accept(',');
      out.push(this.value(type.fields[k], at));
      const size = fixedSize(type.fields[k]);
      at = at < 0 || size === undefined ? -1 : at + size;
    }
    return out;
  }
}

/** The shared-network a scope is in, if any. */
function sharedNetworkOf(scope: Scope | undefined): Scope | undefined {
  for (let s = scope; s; s = s.parent) if (s.kind === 'shared-network') return s;
  return undefined;
}
