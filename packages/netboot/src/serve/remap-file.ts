import { readFile } from 'node:fs/promises';
import { parseRemap, type Remap } from '@netboot/tftp-wire';

/** tftp-hpa remap rules from `file`, for TFTP and HTTP alike: the same names reach the same files over both. */
export async function loadRemap(file: string): Promise<Remap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the remap file ${file}: ${(e as Error).message}`);
  }
  return parseRemap(text, file); // a RemapSyntaxError names file:line:column
}
