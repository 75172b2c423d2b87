{{/* The chart's name, or nameOverride. */}}
{{- define "accord.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of every object the chart creates: fullnameOverride, or the release name
     joined with the chart's name unless it already contains it. */}}
{{- define "accord.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "accord.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The operator's ServiceAccount: the chart's, or serviceAccount.name. */}}
{{- define "accord.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "accord.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "accord.labels" -}}
app.kubernetes.io/name: {{ include "accord.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "accord.selectorLabels" -}}
app.kubernetes.io/name: {{ include "accord.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The image, by digest when image.digest is set (tag ignored then). */}}
{{- define "accord.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Webhook clientConfig pointing at the chart's Service. */}}
{{- define "accord.webhookClient" -}}
service:
  namespace: {{ .root.Release.Namespace }}
  name: {{ include "accord.fullname" .root }}
  path: {{ .path }}
  port: 443
{{- end -}}

{{/* The metadata the chart adds to each CRD (under its `metadata:`). */}}
{{- define "accord.crdMetadata" -}}
labels:
  {{- include "accord.labels" . | nindent 2 }}
{{- if .Values.crds.keep }}
annotations:
  helm.sh/resource-policy: keep
{{- end }}
{{- end -}}
