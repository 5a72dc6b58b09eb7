{{/* The chart name, or nameOverride. */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of every object: fullnameOverride, else <release>-<name> (just <release> when it contains <name>). */}}
{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "vigil.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vigil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object of the chart. */}}
{{- define "vigil.labels" -}}
helm.sh/chart: {{ include "vigil.chart" . }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vigil
{{- end }}

{{/* Labels that select the operator pods (immutable once the workload exists). */}}
{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: set the name of an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vigil.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* True (non-empty) when the operator runs as several replicas in a kopf peering. */}}
{{- define "vigil.ha" -}}
{{- if gt (int .Values.replicas) 1 }}true{{ end }}
{{- end }}

{{- define "vigil.peeringName" -}}
{{- default (include "vigil.fullname" .) .Values.peering.name }}
{{- end }}

{{/* The operator settings (VIGIL_* variables) of the settings ConfigMap; its checksum rolls the pods. */}}
{{- define "vigil.settings" -}}
VIGIL_METRICS_PORT: {{ .Values.metrics.port | int64 | quote }}
VIGIL_PROMETHEUS_LABELS: {{ .Values.prometheusLabels | toJson | quote }}
VIGIL_COLLECTOR_IMAGE: {{ .Values.collector.image | quote }}
VIGIL_COLLECTOR_BINARY: {{ ternary .Values.collectorValidation.binary "" .Values.collectorValidation.enabled | quote }}
VIGIL_DRIFT_INTERVAL: {{ .Values.operator.driftInterval | toString | quote }}
VIGIL_SECRET_CHECK_INTERVAL: {{ .Values.operator.secretCheckInterval | toString | quote }}
VIGIL_DATA_FLOW_INTERVAL: {{ .Values.operator.dataFlowInterval | toString | quote }}
VIGIL_WORKER_LIMIT: {{ .Values.operator.workerLimit | int64 | quote }}
VIGIL_POSTING_LEVEL: {{ .Values.operator.postingLevel | quote }}
VIGIL_LOG_FORMAT: {{ .Values.operator.logFormat | quote }}
VIGIL_WATCH_SERVER_TIMEOUT: {{ .Values.operator.watchServerTimeout | int64 | quote }}
VIGIL_WATCH_CLIENT_TIMEOUT: {{ .Values.operator.watchClientTimeout | int64 | quote }}
VIGIL_DEBUG: {{ ternary "1" "" .Values.operator.debug | quote }}
VIGIL_PEERING: {{ ternary (include "vigil.peeringName" .) "" (eq (include "vigil.ha" .) "true") | quote }}
{{- end }}

{{/* prometheusLabels, then the object's own labels on top. */}}
{{- define "vigil.prometheusLabels" -}}
{{- with merge (dict) .own .root.Values.prometheusLabels }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/* Non-empty when the cluster (or `helm template --api-versions`) serves monitoring.coreos.com/v1. */}}
{{- define "vigil.hasPrometheusOperator" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- end }}

{{- define "vigil.hasGrafanaOperator" -}}
{{- if .Capabilities.APIVersions.Has "grafana.integreatly.org/v1beta1" }}true{{ end }}
{{- end }}

{{/* The rules on namespaced resources: what the operator reads, and writes only what it generates.
Generated kinds: `watch` too, for their metadata (labelled managed-by=vigil): a reconcile reads
only the children that changed. Secrets: `get` alone, and the operator asks only for their
metadata (resourceVersion, to roll
collectors on rotation); it never lists or watches them. */}}
{{- define "vigil.namespacedRules" -}}
- apiGroups: [vigil.dev]
  resources: [telemetrysinks, monitoringstacks, alertpolicies]
  verbs: [get, list, watch, patch]
- apiGroups: [vigil.dev]
  resources: [telemetrysinks/status, monitoringstacks/status, alertpolicies/status]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# Collector pods, to read their own metrics (status.dataFlow): listed, never read or written.
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, prometheusrules, alertmanagerconfigs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [grafana.integreatly.org]
  resources: [grafanadashboards]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
