// Asks the controller for a replica: POST /wake with the agent's token (see protocol/wake.ts).

import { WAKE_PATH, type WakeRequest, type WakeResponse } from '../../../src/protocol/wake.ts';
import type { TokenFile } from '../../../src/protocol/token-file.ts';

export type WakeCall = (request: WakeRequest) => Promise<WakeResponse>;

export function wakeClient(controllerUrl: string, tokenFile: TokenFile, timeoutMs = 5_000): WakeCall {
  const url = new URL(WAKE_PATH, controllerUrl);
  return async (request) => {
    const token = await tokenFile.read();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`controller answered ${response.status}: ${text.trim()}`);
    return JSON.parse(text) as WakeResponse;
  };
}
