import { RpcClient, RpcServer } from '@netboot/oncrpc-xdr';

// Program 100099 version 1; procedure 0 (NULL) answers with no results.
const server = new RpcServer();
server.register(100099, 1, { 0: () => ({ stat: 0, body: [] }) }); // body: result chunks, sent as a vector
const port = await server.listen({ host: '127.0.0.1', port: 0 }); // UDP and TCP on the same port

const client = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'tcp' });
const results = await client.call(100099, 1, 0); // an XdrReader at the results
console.log(`NULL answered on port ${port}, ${results.remaining} bytes of results`);

client.close();
await server.close();
