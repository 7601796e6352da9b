import { platformStatus, platformSummary } from '@netboot/platform';

/**
 * What `netboot --version` and `netboot doctor` say about the native module:
 * "platform: native (...)" or "platform: portable (why)", and in portable
 * mode what the servers do without it.
 */
export function platformLines(): string[] {
  const lines = [`platform: ${platformSummary()}`];
  if (platformStatus().mode === 'portable') {
    lines.push(
      '  without it: DHCP cannot bind its sockets to --interface (refused when other interfaces have IPv4);',
      '  NLM locks stay in netboot\'s table, unseen by processes on the master; NFS acts on paths, not directory fds',
      '  (on rw exports a client racing renames against its own calls can reach outside the export).',
      '  Rebuild it: npm rebuild @netboot/platform (needs a C compiler, make and python3).',
    );
  }
  return lines;
}
