// Writes whose answer ebb never reads. The API server answers a write with the whole object, and
// the API client parses it and copies it into its model classes: for a status write, a whole
// Deployment with its pod template, for each of the dozens of writes a second that a new leader or
// a moving recommendation makes. Asked for as PartialObjectMetadata (the media type kubectl uses
// to list metadata only), the answer is the object's metadata alone; errors are answered as before.

import { setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node';

const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** `options` with the answer asked for as the written object's metadata only. */
export const answeredWithMetadataOnly = (options?: ConfigurationOptions): ConfigurationOptions => setHeaderOptions('Accept', METADATA_ONLY, options);
