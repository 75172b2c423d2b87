{{/* The name of every namespaced object the chart creates. */}}
{{- define "accord.fullname" -}}
{{- if contains "accord" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-accord" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "accord.labels" -}}
app.kubernetes.io/name: accord
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "accord.selectorLabels" -}}
app.kubernetes.io/name: accord
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "accord.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Webhook clientConfig pointing at the chart's Service. */}}
{{- define "accord.webhookClient" -}}
service:
  namespace: {{ .root.Release.Namespace }}
  name: {{ include "accord.fullname" .root }}
  path: {{ .path }}
  port: 443
{{- end -}}
