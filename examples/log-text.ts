import { RateLimitedLog, bytesText, printable } from '@netboot/log-text';

// A path a client sent: a newline would forge a second log line, 0xe9 is Latin-1, not UTF-8.
const raw = Buffer.from([0x2f, 0x65, 0x78, 0x70, 0xe9, 0x0a, 0x72, 0x6f, 0x6f, 0x74]);
console.log(`MNT of ${bytesText(raw)} refused`); // MNT of /exp\xe9\x0aroot refused
console.log(printable('RRQ for a\u001b[2Jb')); // RRQ for a\x1b[2Jb

// Each kind of message: 2 lines a second, then one line saying how many were dropped.
let now = 0;
const log = new RateLimitedLog((line) => console.log(line), { burst: 2, windowMs: 1000, now: () => now });
for (let i = 0; i < 5; i++) log.log('malformed', `malformed datagram ${i}`); // 0 and 1 are written
now = 1000;
log.log('malformed', 'malformed datagram 5'); // "malformed: 3 similar messages suppressed", then this one
