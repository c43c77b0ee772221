// The stand-in agents' process (started by StandInAgentsProcess.start in stand-in-agents.ts): builds them from the
// bench's first message, answers its requests, and ends when the bench closes them or goes away.

import { StandInAgents, type StandInRequest, type StandInStart, type StandInTold } from './stand-in-agents.ts';

const tell = (message: StandInTold) => process.send!(message);

process.once('message', (first: StandInStart) => {
  const agents = new StandInAgents(first.workloads, first.options);
  process.on('message', (request: StandInRequest) => {
    if (request.type === 'set') agents.setPerPodInFlight(request.workload, request.perPodInFlight);
    if (request.type === 'close') return void agents.close().then(() => process.disconnect());
    tell({ type: 'done', id: request.id, activityRequests: agents.activityRequests, usageRequests: agents.usageRequests });
  });
  void agents.listen().then((urls) => tell({ type: 'listening', urls }));
});
// Never outlives the bench: its channel closes when the bench exits, however it exits.
process.once('disconnect', () => process.exit(0));
