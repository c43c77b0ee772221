// The recommender: per-container usage history in, request recommendations out. Pure (no I/O, no
// clock); the controller owns one ContainerModel per container, feeds it the agents' samples and
// OOM kills, checkpoints it into the cluster, and applies what recommend() returns.
export { ContainerModel } from './container-model.ts';
export type { ContainerCheckpoint, ContainerRecommendation, OomEvent, ResourceBounds, UsageSample } from './container-model.ts';
export { DEFAULT_SIZING, parseSizing } from './sizing.ts';
export type { SizingConfig } from './sizing.ts';
export type { Bytes, Cores, Millicores } from './units.ts';
