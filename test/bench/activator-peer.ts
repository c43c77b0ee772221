// The activator benchmark's other process: the clients whose requests get held and the backend
// they are released to, so that the measured process holds nothing but the held requests.
// Speaks with the parent over IPC.

import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

const arrivals: number[] = [];
const backend = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  arrivals.push(performance.timeOrigin + performance.now());
  req.resume();
  res.end('ok');
});

process.on('message', (message: { backendPort?: number; send?: number; activatorPort?: number }) => {
  if (message.backendPort !== undefined) {
    backend.listen(message.backendPort, '127.0.0.1', () => process.send?.({ listening: (backend.address() as AddressInfo).port }));
    return;
  }
  const count = message.send ?? 0;
  arrivals.length = 0;
  let answered = 0;
  let ok = 0;
  for (let i = 0; i < count; i += 1) {
    http
      .get({ host: '127.0.0.1', port: message.activatorPort, path: `/r/${i}`, agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          answered += 1;
          if (res.statusCode === 200) ok += 1;
          if (answered === count) process.send?.({ done: { ok, arrivals } });
        });
      })
      .on('error', () => {
        answered += 1;
        if (answered === count) process.send?.({ done: { ok, arrivals } });
      });
  }
});

await once(process, 'disconnect');
backend.close();
