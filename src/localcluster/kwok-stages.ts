// KWOK does nothing until it is told how nodes and pods move through their lives. These stages
// are the least a kubelet does for ebb's purposes: a node becomes Ready; a scheduled pod starts at
// once with an IP from KWOK's pool (native sidecars included, as started and running), and reports
// its containers' resources as a kubelet that supports in-place resize does (without them the API
// server refuses pods/resize), and acknowledges its generation; a deleted pod goes away; a resize
// is applied, or held back as Infeasible or (on a test's request) Deferred. Written as KWOK Stage
// resources, passed to kwok with --config.

/** A KWOK Stage: the objects of `kind` its match expressions select, and what comes `next` (YAML under `next:`). */
function stage(name: string, kind: 'Node' | 'Pod', selector: readonly string[], next: string): string {
  return `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef: { apiGroup: v1, kind: ${kind} }
  selector:
    matchExpressions:
${selector.map((expression) => `    - ${expression}`).join('\n')}
  next:
${next}`;
}

// Match expressions: a jq key over the object, and what its value must be.
const quoted = (values: readonly string[]) => `[${values.map((value) => `'${value}'`).join(', ')}]`;
const isIn = (key: string, ...values: string[]) => `{ key: '${key}', operator: In, values: ${quoted(values)} }`;
const notIn = (key: string, ...values: string[]) => `{ key: '${key}', operator: NotIn, values: ${quoted(values)} }`;
const exists = (key: string) => `{ key: '${key}', operator: Exists }`;
const absent = (key: string) => `{ key: '${key}', operator: DoesNotExist }`;

const NOT_DELETED = absent('.metadata.deletionTimestamp');
const RUNNING = isIn('.status.phase', 'Running');
const READY = '.status.conditions.[] | select( .type == "Ready" ) | .status';

/** The status as a template (KWOK's Go templates, `$now` defined), replaced whole. */
const statusTemplate = (template: string) => `    statusTemplate: |
      {{ $now := Now }}
${template}`;

/** A ready pod's conditions, in a status template where `$now` is defined. */
const readyConditions = `      conditions:
      - { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }} }
`;

const nodeReady = stage(
  'ebb-node-ready',
  'Node',
  [notIn(READY, 'True')],
  statusTemplate(`      conditions:
      - { type: Ready, status: "True", reason: KubeletReady, message: "kwok node", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      - { type: MemoryPressure, status: "False", reason: KubeletHasSufficientMemory, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      - { type: DiskPressure, status: "False", reason: KubeletHasNoDiskPressure, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      - { type: PIDPressure, status: "False", reason: KubeletHasSufficientPID, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      addresses:
      - { type: InternalIP, address: {{ NodeIP | Quote }} }
      - { type: Hostname, address: {{ .metadata.name | Quote }} }
      nodeInfo: { architecture: amd64, operatingSystem: linux, kubeletVersion: {{ printf "kwok-%s" Version | Quote }} }
      phase: Running
`),
);

const podRunning = stage(
  'ebb-pod-running',
  'Pod',
  [NOT_DELETED, isIn('.status.phase', 'Pending')],
  statusTemplate(`${readyConditions}      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        started: true
        restartCount: 0
        state: { running: { startedAt: {{ $now | Quote }} } }
        {{ with .resources }}
        resources:{{ YAML . 2 }}
        {{ end }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        {{ if eq .restartPolicy "Always" }}
        started: true
        state: { running: { startedAt: {{ $now | Quote }} } }
        {{ with .resources }}
        resources:{{ YAML . 2 }}
        {{ end }}
        {{ else }}
        state: { terminated: { exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } }
        {{ end }}
      {{ end }}
      {{ with NodeIPsWith .spec.nodeName }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs: [ {{ range $i, $ip := . }}{{ if $i }}, {{ end }}{ ip: {{ $ip | Quote }} }{{ end }} ]
      {{ end }}
      {{ with PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      podIP: {{ index . 0 | Quote }}
      podIPs: [ {{ range $i, $ip := . }}{{ if $i }}, {{ end }}{ ip: {{ $ip | Quote }} }{{ end }} ]
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
      observedGeneration: {{ .metadata.generation }}
`),
);

// The node lifecycle controller marks a node's pods not ready when the node misses heartbeats; a
// kubelet marks them ready again once its node is back. KWOK is that kubelet here.
const podReadyAgain = stage('ebb-pod-ready-again', 'Pod', [NOT_DELETED, RUNNING, notIn(READY, 'True')], statusTemplate(readyConditions));

const podDeleted = stage('ebb-pod-deleted', 'Pod', [exists('.metadata.deletionTimestamp')], '    delete: true\n');

/** Test hook: the pod annotation that makes KWOK emulate an OOM kill of the container it names. */
export const TEST_OOM_KILL_ANNOTATION = 'ebb.dev/test-oom-kill';

// A kubelet whose container the kernel OOM-killed restarts it: restartCount + 1, the kill in
// lastState, running again. KWOK has no such stage; tests ask for one kill per annotation, which
// the stage removes first (both patches are rendered from the pod as selected; the status patch
// after the annotation is gone does not select the pod again: once). The status lists are
// replaced whole (a strategic merge of containerStatuses does not merge by name), so the others
// are copied as they are.
const testOomKill = stage(
  'ebb-test-oom-kill',
  'Pod',
  [NOT_DELETED, RUNNING, exists(`.metadata.annotations["${TEST_OOM_KILL_ANNOTATION}"]`)],
  `    patches:
    - root: metadata
      template: |
        annotations: { ${TEST_OOM_KILL_ANNOTATION}: null }
    - subresource: status
      root: status
      template: |
        {{ $victim := index .metadata.annotations "${TEST_OOM_KILL_ANNOTATION}" }}
        {{ $now := Now }}
        {{ range $list := list "containerStatuses" "initContainerStatuses" }}
        {{ $statuses := list }}
        {{ range index $.status $list }}
        {{ if eq .name $victim }}
        {{ $statuses = append $statuses (merge (dict "restartCount" (add .restartCount 1) "lastState" (dict "terminated" (dict "exitCode" 137 "reason" "OOMKilled" "finishedAt" $now)) "state" (dict "running" (dict "startedAt" $now))) .) }}
        {{ else }}
        {{ $statuses = append $statuses . }}
        {{ end }}
        {{ end }}
        {{ $list }}: {{ toJson $statuses }}
        {{ end }}
`,
);

/** Test hook: the pod annotation that makes KWOK hold the pod's resizes back (PodResizePending, reason Deferred) while it is there. */
export const TEST_RESIZE_DEFERRED_ANNOTATION = 'ebb.dev/test-resize-deferred';

// What the nodes offer (kwokNode in control-plane.ts): a resize that asks a pod for more is
// Infeasible, as the kubelet's allocation manager judges (canResizePod).
const NODE_ALLOCATABLE = { cpuCores: 32, memoryBytes: 256 * 2 ** 30 };

// jq over the pod: whether its requests (app containers and native sidecars) exceed the node's
// allocatable. KWOK's templates cannot read quantities, so jq parses them.
const QUANTITY =
  'def qty: capture("^(?<n>[0-9.]+([eE][-+]?[0-9]+)?)(?<s>[a-zA-Z]*)$") | (.n | tonumber) * ({"": 1, "m": 0.001, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024, "Mi": 1048576, "Gi": 1073741824, "Ti": 1099511627776}[.s] // 0);';
const requested = (resource: 'cpu' | 'memory') =>
  `([.spec.containers[], (.spec.initContainers // [] | .[] | select(.restartPolicy == "Always"))] | map(.resources.requests.${resource} // "0" | qty) | add)`;
const exceedsNode = `${QUANTITY} ${requested('cpu')} > ${NODE_ALLOCATABLE.cpuCores} or ${requested('memory')} > ${NODE_ALLOCATABLE.memoryBytes}`;

// A resize is a spec change: the API server counts it in metadata.generation; the kubelet acts on
// a generation it has not acknowledged in status.observedGeneration yet (or on a resize it
// deferred), and says what became of it with PodResizePending (observedGeneration on every
// condition, as the kubelet of 1.35 writes them). Exactly one of the three stages below matches
// such a pod.
const resizeToJudge = `(.metadata.generation != .status.observedGeneration) or ([.status.conditions[]? | select(.type == "PodResizePending" and .reason == "Deferred")] | length > 0)`;

/** The status template's conditions without the resize ones, each stamped with the generation judged. */
const conditionsKept = `
        {{ $generation := .metadata.generation }}
        {{ $conditions := list }}
        {{ range .status.conditions }}
        {{ if not (has .type (list "PodResizePending" "PodResizeInProgress")) }}
        {{ $conditions = append $conditions (merge (dict "observedGeneration" $generation) .) }}
        {{ end }}
        {{ end }}`;

/** A merge patch of the pod's status, whose template starts from conditionsKept. */
const judgedStatusPatch = (template: string) => `    patches:
    - subresource: status
      root: status
      type: merge
      template: |${conditionsKept}
${template}`;

/** The resize held back: PodResizePending with the reason and message, the generation acknowledged. */
const resizePending = (name: string, selector: readonly string[], reason: 'Deferred' | 'Infeasible', message: string) =>
  stage(
    name,
    'Pod',
    [NOT_DELETED, RUNNING, ...selector],
    judgedStatusPatch(`        {{ $conditions = append $conditions (dict "type" "PodResizePending" "status" "True" "reason" "${reason}" "message" "${message}" "observedGeneration" $generation "lastTransitionTime" Now) }}
        observedGeneration: {{ $generation }}
        conditions: {{ toJson $conditions }}
`),
  );

const RESIZE_TO_JUDGE = isIn(resizeToJudge, 'true');
const DEFERRED_BY_TEST = `.metadata.annotations["${TEST_RESIZE_DEFERRED_ANNOTATION}"]`;

// The kubelet with in-place resize (KEP-1287): what the spec asks becomes what is allocated
// (containerStatuses[].allocatedResources) and applied (.resources), the generation is
// acknowledged and no resize condition is left. Container statuses are a list replaced whole.
const podResized = stage(
  'ebb-pod-resized',
  'Pod',
  [NOT_DELETED, RUNNING, RESIZE_TO_JUDGE, absent(DEFERRED_BY_TEST), notIn(exceedsNode, 'true')],
  judgedStatusPatch(`        observedGeneration: {{ $generation }}
        conditions: {{ toJson $conditions }}
        {{ range $list, $specList := dict "containerStatuses" "containers" "initContainerStatuses" "initContainers" }}
        {{ with index $.status $list }}
        {{ $statuses := list }}
        {{ range $status := . }}
        {{ range $container := index $.spec $specList }}
        {{ if and (eq $container.name $status.name) $container.resources }}
        {{ $status = merge (dict "resources" $container.resources "allocatedResources" (default (dict) $container.resources.requests)) $status }}
        {{ end }}
        {{ end }}
        {{ $statuses = append $statuses $status }}
        {{ end }}
        {{ $list }}: {{ toJson $statuses }}
        {{ end }}
        {{ end }}
`),
);

const podResizeInfeasible = resizePending(
  'ebb-pod-resize-infeasible',
  [RESIZE_TO_JUDGE, absent(DEFERRED_BY_TEST), isIn(exceedsNode, 'true')],
  'Infeasible',
  `Node didn't have enough capacity: the pod's requests exceed the node's allocatable (cpu ${NODE_ALLOCATABLE.cpuCores}, memory ${NODE_ALLOCATABLE.memoryBytes / 2 ** 30}Gi)`,
);

// Test hook: the node holds a new resize back while the annotation is there, and applies it once
// the annotation is removed (the resized stage above then matches the Deferred pod).
const testResizeDeferred = resizePending(
  'ebb-test-resize-deferred',
  [isIn('.metadata.generation != .status.observedGeneration', 'true'), exists(DEFERRED_BY_TEST)],
  'Deferred',
  `Node didn't have enough resources (held by ${TEST_RESIZE_DEFERRED_ANNOTATION})`,
);

export const KWOK_STAGES =
  [nodeReady, podRunning, podReadyAgain, podDeleted, testOomKill, podResized, podResizeInfeasible, testResizeDeferred]
    .map((doc) => doc.trim())
    .join('\n---\n') + '\n';
