{{/* The one image every program runs. */}}
{{- define "ebb.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* A program's labels (its name as the argument): the webhook skips every pod and namespace part-of ebb. */}}
{{- define "ebb.labels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/part-of: ebb
{{- end }}

{{/* The container lines shared by every program: image, and the restricted Pod Security Standard. */}}
{{- define "ebb.imageLines" -}}
image: {{ include "ebb.image" . }}
{{- with .Values.image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}
{{- end }}

{{- define "ebb.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{- define "ebb.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end }}

{{/* The token a program shows the other programs: audience ebb.dev, rotated by the kubelet. */}}
{{- define "ebb.tokenVolume" -}}
- name: ebb-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          audience: ebb.dev
          expirationSeconds: 3600
{{- end }}

{{/* Preferred anti-affinity: replicas on different nodes where there are several. */}}
{{- define "ebb.spread" -}}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
{{- end }}

{{- define "ebb.podDisruptionBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "ebb.labels" .name | nindent 4 }}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
{{- end }}

{{- define "ebb.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "ebb.labels" .name | nindent 4 }}
{{- end }}

{{/* A binding of the program's account to its role (kind ClusterRole or Role). */}}
{{- define "ebb.binding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}Binding
metadata:
  name: {{ .name }}
  {{- if eq .kind "Role" }}
  namespace: {{ .namespace }}
  {{- end }}
  labels:
    {{- include "ebb.labels" .name | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ .kind }}
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .name }}
    namespace: {{ .namespace }}
{{- end }}
