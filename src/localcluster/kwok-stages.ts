// KWOK does nothing until it is told how nodes and pods move through their lives. These stages
// are the least a kubelet does for ebb's purposes: a node becomes Ready; a scheduled pod starts at
// once with an IP from KWOK's pool (native sidecars included, as started and running), and reports
// its containers' resources as a kubelet that supports in-place resize does (without them the API
// server refuses pods/resize); a deleted pod goes away. Written as KWOK Stage resources, passed to kwok with --config.

/** A ready pod's conditions, in a status template where `$now` is defined. */
const readyConditions = `      conditions:
      - { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }} }
`;

const nodeReady = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ebb-node-ready
spec:
  resourceRef: { apiGroup: v1, kind: Node }
  selector:
    matchExpressions:
    - { key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ['True'] }
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - { type: Ready, status: "True", reason: KubeletReady, message: "kwok node", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      - { type: MemoryPressure, status: "False", reason: KubeletHasSufficientMemory, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      - { type: DiskPressure, status: "False", reason: KubeletHasNoDiskPressure, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      - { type: PIDPressure, status: "False", reason: KubeletHasSufficientPID, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      addresses:
      - { type: InternalIP, address: {{ NodeIP | Quote }} }
      - { type: Hostname, address: {{ .metadata.name | Quote }} }
      nodeInfo: { architecture: amd64, operatingSystem: linux, kubeletVersion: {{ printf "kwok-%s" Version | Quote }} }
      phase: Running
`;

const podRunning = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ebb-pod-running
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: DoesNotExist }
    - { key: '.status.phase', operator: In, values: [Pending] }
  next:
    statusTemplate: |
      {{ $now := Now }}
${readyConditions}      containerStatuses:
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
`;

// The node lifecycle controller marks a node's pods not ready when the node misses heartbeats; a
// kubelet marks them ready again once its node is back. KWOK is that kubelet here.
const podReadyAgain = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ebb-pod-ready-again
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: DoesNotExist }
    - { key: '.status.phase', operator: In, values: [Running] }
    - { key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ['True'] }
  next:
    statusTemplate: |
      {{ $now := Now }}
${readyConditions}`;

const podDeleted = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ebb-pod-deleted
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: Exists }
  next:
    delete: true
`;

/** Test hook: the pod annotation that makes KWOK emulate an OOM kill of the container it names. */
export const TEST_OOM_KILL_ANNOTATION = 'ebb.dev/test-oom-kill';

// A kubelet whose container the kernel OOM-killed restarts it: restartCount + 1, the kill in
// lastState, running again. KWOK has no such stage; tests ask for one kill per annotation, which
// the stage removes first (both patches are rendered from the pod as selected; the status patch
// after the annotation is gone does not select the pod again: once). The status lists are
// replaced whole (a strategic merge of containerStatuses does not merge by name), so the others
// are copied as they are.
const testOomKill = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ebb-test-oom-kill
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: DoesNotExist }
    - { key: '.status.phase', operator: In, values: [Running] }
    - { key: '.metadata.annotations["${TEST_OOM_KILL_ANNOTATION}"]', operator: Exists }
  next:
    patches:
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
`;

export const KWOK_STAGES = [nodeReady, podRunning, podReadyAgain, podDeleted, testOomKill].map((doc) => doc.trim()).join('\n---\n') + '\n';
