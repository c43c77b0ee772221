// Summarises a V8 heap snapshot: self size and count by constructor (objects) or type (strings,
// arrays, code), largest first. `node --import tsx test/bench/heap-summary.ts FILE [rows]` — for the
// snapshots BENCH_HEAP_SNAPSHOT makes of the controller during a cluster bench.

import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [file, rowsArgument] = process.argv.slice(2);
if (!file) throw new Error('usage: heap-summary.ts FILE.heapsnapshot [rows]');
const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = heap.snapshot.meta.node_fields;
const types = heap.snapshot.meta.node_types[0];
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
const groups = new Map<string, { bytes: number; count: number }>();
let total = 0;
for (let i = 0; i < heap.nodes.length; i += fields.length) {
  const type = types[heap.nodes[i + typeAt!]!]!;
  const key = type === 'object' || type === 'closure' ? `${type} ${heap.strings[heap.nodes[i + nameAt!]!]}` : type;
  const size = heap.nodes[i + sizeAt!]!;
  total += size;
  const group = groups.get(key) ?? { bytes: 0, count: 0 };
  group.bytes += size;
  group.count += 1;
  groups.set(key, group);
}
console.log(`total self size ${(total / 2 ** 20).toFixed(1)} MiB in ${heap.nodes.length / fields.length} nodes`);
console.log('| MiB | count | what |\n| ---: | ---: | --- |');
for (const [key, group] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(rowsArgument ?? 30))) {
  console.log(`| ${(group.bytes / 2 ** 20).toFixed(1)} | ${group.count} | ${key.slice(0, 100)} |`);
}
