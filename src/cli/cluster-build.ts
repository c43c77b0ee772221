// `npm run cluster:build`: builds the control-plane binaries that tests and the sandbox run, and
// the tools the tests run beside them (promtool, helm).
import { ensureAssets } from '../localcluster/assets.ts';
import { ensureTools } from '../localcluster/tools.ts';

try {
  const started = Date.now();
  const assets = await ensureAssets((line) => console.log(line));
  const tools = await ensureTools((line) => console.log(line));
  console.log(`ready in ${((Date.now() - started) / 1000).toFixed(0)} s: ${[...Object.values(assets), ...Object.values(tools)].join(' ')}`);
} catch (error) {
  console.error(`cluster:build: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
