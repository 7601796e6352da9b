import type { Log, RunningService } from './running-service.js';

/**
 * Runs one started service as its own command does (`netboot tftp`, `http`,
 * `dhcp`, `nfs`): SIGHUP re-reads its files, and a bad file is logged with
 * `keeping` (what stays in force) instead of stopping it; the first SIGINT or
 * SIGTERM (`signalled`, set up before the service started, so a signal during
 * its start is not lost) stops it. Resolves with the exit code.
 */
export async function serveUntilSignalled(service: RunningService, signalled: Promise<NodeJS.Signals>, log: Log, keeping: string): Promise<number> {
  const onHup = () => void service.reload().catch((e: unknown) => log(`${service.name}: reload failed, ${keeping}: ${e instanceof Error ? e.message : String(e)}`));
  process.on('SIGHUP', onHup);
  const sig = await signalled;
  process.off('SIGHUP', onHup);
  log(`${service.name}: ${sig}: stopping`);
  await service.close();
  return 0;
}
