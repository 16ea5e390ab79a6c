{{/* Names and labels. */}}
{{- define "pars.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pars.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pars.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "pars.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pars
{{- end }}

{{/* Selector labels of one service: (dict "root" $ "name" "board-router"). */}}
{{- define "pars.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pars.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "pars.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The port a service answers HTTP on (its API for intake, else health_port_base + offset), as
     Settings.service_port() computes it: (dict "root" $ "name" "validation"). */}}
{{- define "pars.port" -}}
{{- $svc := index .root.Values.services .name }}
{{- if kindIs "invalid" $svc.healthPortOffset }}
{{- int .root.Values.settings.api_port }}
{{- else }}
{{- add .root.Values.settings.health_port_base $svc.healthPortOffset | int }}
{{- end }}
{{- end }}

{{/* A setting's value as the environment carries it: whole numbers without an exponent (YAML gives floats). */}}
{{- define "pars.envValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) (lt . 1e15) (gt . -1e15) }}
{{- int64 . | toString }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* The ConfigMap's data: every non-null setting as PARS_<KEY>, and where intake finds validation. */}}
{{- define "pars.settingsData" -}}
{{- range $key, $value := .Values.settings }}
{{- if not (kindIs "invalid" $value) }}
PARS_{{ upper $key }}: {{ include "pars.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- if not .Values.settings.validation_url }}
PARS_VALIDATION_URL: {{ printf "http://%s-validation:%s" (include "pars.fullname" .) (include "pars.port" (dict "root" . "name" "validation")) | quote }}
{{- end }}
{{- end }}

{{/* The Secret's data (base64): every secret given in values and not taken from secretRefs. With "job" true, what
     the set-up Job needs (not the service token); else the service token too, generated once when not given. */}}
{{- define "pars.secretData" -}}
{{- $root := .root }}
{{- range $key, $value := $root.Values.secrets }}
{{- if and $value (not (hasKey $root.Values.secretRefs $key)) }}
PARS_{{ upper $key }}: {{ include "pars.envValue" $value | b64enc | quote }}
{{- end }}
{{- end }}
{{- if and (not .job) (not $root.Values.secrets.service_token) (not (hasKey $root.Values.secretRefs "service_token")) }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (printf "%s-secrets" (include "pars.fullname" $root)) }}
{{- $token := "" }}
{{- if and $existing $existing.data }}
{{- $token = index $existing.data "PARS_SERVICE_TOKEN" | default "" }}
{{- end }}
PARS_SERVICE_TOKEN: {{ $token | default (randAlphaNum 48 | b64enc) | quote }}
{{- end }}
{{- end }}

{{/* env entries of every PARS container: secretRefs, then the service's own extra settings. */}}
{{- define "pars.env" -}}
{{- range $key, $ref := .root.Values.secretRefs }}
- name: PARS_{{ upper $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name | quote }}
      key: {{ $ref.key | quote }}
{{- end }}
{{- range $key, $value := .env }}
{{- if not (kindIs "invalid" $value) }}
- name: PARS_{{ upper $key }}
  value: {{ include "pars.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Volumes and mounts of every PARS container: a writable /tmp and the certificate Secrets. */}}
{{- define "pars.volumes" -}}
- name: tmp
  emptyDir: {}
{{- range .Values.certificates }}
- name: {{ .name }}
  secret:
    secretName: {{ .secretName | quote }}
{{- end }}
{{- end }}

{{- define "pars.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- range .Values.certificates }}
- name: {{ .name }}
  mountPath: {{ .mountPath | quote }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Settings the chart cannot run without. */}}
{{- define "pars.checkRequired" -}}
{{- if not .Values.settings.kafka_bootstrap_servers }}
{{- fail "settings.kafka_bootstrap_servers is required: Kafka's bootstrap servers, host:port[,host:port...]" }}
{{- end }}
{{- if not (or .Values.secrets.database_url (hasKey .Values.secretRefs "database_url")) }}
{{- fail "secrets.database_url (or secretRefs.database_url) is required: the PostgreSQL URL" }}
{{- end }}
{{- if hasPrefix "SASL_" (.Values.settings.kafka_security_protocol | default "") }}
{{- if not (and .Values.settings.kafka_sasl_username (or .Values.secrets.kafka_sasl_password (hasKey .Values.secretRefs "kafka_sasl_password"))) }}
{{- fail "settings.kafka_sasl_username and secrets.kafka_sasl_password (or secretRefs.kafka_sasl_password): both needed with SASL" }}
{{- end }}
{{- end }}
{{- range $key, $_ := .Values.secrets }}
{{- if hasKey $.Values.settings $key }}
{{- fail (printf "settings.%s is a secret: give it under secrets or secretRefs, not settings" $key) }}
{{- end }}
{{- end }}
{{- end }}
