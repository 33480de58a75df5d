{{/* Names ------------------------------------------------------------------------------------ */}}
{{- define "incident-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "incident-sync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", for a dict {root, component}. */}}
{{- define "incident-sync.componentName" -}}
{{- printf "%s-%s" (include "incident-sync.fullname" .root | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "incident-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "incident-sync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------------------------- */}}
{{- define "incident-sync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "incident-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: incident-sync
{{- end -}}

{{/* For a dict {root, component}. */}}
{{- define "incident-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incident-sync.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "incident-sync.componentLabels" -}}
{{ include "incident-sync.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image ------------------------------------------------------------------------------------ */}}
{{- define "incident-sync.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Environment ------------------------------------------------------------------------------ */}}
{{- define "incident-sync.configMapName" -}}
{{- printf "%s-env" (include "incident-sync.fullname" .) -}}
{{- end -}}

{{- define "incident-sync.filesConfigMapName" -}}
{{- printf "%s-files" (include "incident-sync.fullname" .) -}}
{{- end -}}

{{/* A secret key as an env var: dict {name, secret, key, optional}. */}}
{{- define "incident-sync.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      optional: {{ .optional }}
{{- end -}}

{{/* What every component shares: dict {root, component}. */}}
{{- define "incident-sync.commonEnv" -}}
{{- $v := .root.Values -}}
- name: OTEL_SERVICE_NAME
  value: {{ printf "incident-sync-%s" .component | quote }}
{{- if $v.redis.existingSecret }}
{{ include "incident-sync.secretEnv" (dict "name" "REDIS_URL" "secret" $v.redis.existingSecret "key" $v.redis.key "optional" false) }}
{{- end }}
{{ include "incident-sync.secretEnv" (dict "name" "CONTROL_ENCRYPTION_KEYS" "secret" (required "secrets.existingSecret is required" $v.secrets.existingSecret) "key" $v.secrets.encryptionKeysKey "optional" false) }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Security, volumes ------------------------------------------------------------------------ */}}
{{- define "incident-sync.podSpecCommon" -}}
serviceAccountName: {{ include "incident-sync.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{- define "incident-sync.containerSecurity" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end -}}

{{/* Volumes: /tmp and the files ConfigMap, for every component. */}}
{{- define "incident-sync.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
- name: files
  configMap:
    name: {{ include "incident-sync.filesConfigMapName" . }}
{{- end -}}

{{- define "incident-sync.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: files
  mountPath: /etc/incident-sync/config
  readOnly: true
{{- end -}}

{{/* Probes on the real endpoints: dict {port}. */}}
{{- define "incident-sync.probes" -}}
startupProbe:
  httpGet: {path: /health, port: http}
  periodSeconds: 2
  failureThreshold: 90
livenessProbe:
  httpGet: {path: /health, port: http}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /ready, port: http}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "incident-sync.checksums" -}}
checksum/env: {{ include (print .Template.BasePath "/configmap-env.yaml") . | sha256sum }}
checksum/files: {{ include (print .Template.BasePath "/configmap-files.yaml") . | sha256sum }}
{{- end -}}

{{/* The partition count of one topic entry: dict {root, topic}. */}}
{{- define "incident-sync.topicPartitions" -}}
{{- $d := .root.Values.kafkaTopics.defaults -}}
{{- default $d.partitions .topic.partitions -}}
{{- end -}}
