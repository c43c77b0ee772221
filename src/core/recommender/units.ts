// The recommender's units, named where they are used (the VPA's ResourceAmount idea): usage comes
// in as cores and bytes, recommendations go out as millicores and bytes. Aliases, not brands: the
// names document, the caller is not made to cast.

/** CPU in cores, as the kubelet reports usage (0.25 = 250m). */
export type Cores = number;
/** CPU in millicores, as requests are written (250 = 250m). */
export type Millicores = number;
/** Memory in bytes. */
export type Bytes = number;
/** Time that counts as history: it advances only while samples arrive (container-model.ts). */
export type ObservedMs = number;
