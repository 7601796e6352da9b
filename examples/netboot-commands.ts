import { commands } from 'netboot';

// The same commands the `netboot` executable runs, as values: a name, a one-line summary, the
// --help text, and run(argv), which resolves to the exit status.
for (const command of commands) console.log(`netboot ${command.name.padEnd(9)} ${command.summary}`);

// The config file names pxelinux asks the TFTP server for, in order, for one node.
const pxelinux = commands.find((c) => c.name === 'pxelinux')!;
const status = await pxelinux.run(['52:54:00:12:34:56', '198.18.1.21']);
console.log(`exit status ${status}`);
