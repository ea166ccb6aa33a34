{{/* Chart name, truncated to 63 chars. */}}
{{- define "distillguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; StatefulSet pod names add "-N", so keep room under 63. */}}
{{- define "distillguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "distillguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "distillguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "distillguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "distillguard.labels" -}}
helm.sh/chart: {{ include "distillguard.chart" . }}
{{ include "distillguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: distillguard
{{- end }}

{{- define "distillguard.headlessServiceName" -}}
{{- printf "%s-headless" (include "distillguard.fullname" .) }}
{{- end }}

{{- define "distillguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "distillguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "distillguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* true when the protocol uses SASL / TLS */}}
{{- define "distillguard.kafka.sasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}
{{- define "distillguard.kafka.tls" -}}
{{- if or (eq .Values.kafka.securityProtocol "SSL") (eq .Values.kafka.securityProtocol "SASL_SSL") }}true{{ end }}
{{- end }}

{{/* Fail early on inconsistent Kafka security values. */}}
{{- define "distillguard.validate" -}}
{{- if and (include "distillguard.kafka.sasl" .) (not .Values.kafka.auth.existingSecret) }}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.auth.existingSecret (Secret with the SASL username/password)" .Values.kafka.securityProtocol) }}
{{- end }}
{{- if and .Values.kafka.tls.existingSecret (not (include "distillguard.kafka.tls" .)) }}
{{- fail (printf "kafka.tls.existingSecret is set but kafka.securityProtocol=%s does not use TLS (use SSL or SASL_SSL)" .Values.kafka.securityProtocol) }}
{{- end }}
{{- if ne (empty .Values.kafka.tls.certKey) (empty .Values.kafka.tls.keyKey) }}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey must be set together (mutual TLS) or both left empty" }}
{{- end }}
{{- if and .Values.kafka.tls.certKey (not .Values.kafka.tls.existingSecret) }}
{{- fail "kafka.tls.certKey/keyKey need kafka.tls.existingSecret" }}
{{- end }}
{{- end }}

{{/* Kafka connection env shared by the worker and the topics Job. */}}
{{- define "distillguard.kafkaEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if include "distillguard.kafka.sasl" . }}
- name: KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.auth.saslMechanism | quote }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.auth.existingSecret | quote }}
      key: {{ .Values.kafka.auth.usernameKey | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.auth.existingSecret | quote }}
      key: {{ .Values.kafka.auth.passwordKey | quote }}
{{- end }}
{{- if .Values.kafka.tls.existingSecret }}
- name: KAFKA_SSL_CAFILE
  value: /etc/distillguard/tls/ca.crt
{{- if .Values.kafka.tls.certKey }}
- name: KAFKA_SSL_CERTFILE
  value: /etc/distillguard/tls/tls.crt
- name: KAFKA_SSL_KEYFILE
  value: /etc/distillguard/tls/tls.key
{{- end }}
{{- end }}
- name: DISTILLGUARD_TOPIC_PARTITIONS
  value: {{ .Values.config.topicPartitions | quote }}
- name: DISTILLGUARD_REPLICATION_FACTOR
  value: {{ .Values.config.replicationFactor | quote }}
- name: DISTILLGUARD_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: DISTILLGUARD_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
{{- end }}

{{/* TLS volume (Secret keys projected to fixed file names). */}}
{{- define "distillguard.tlsVolume" -}}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.existingSecret | quote }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.tls.caKey | quote }}
        path: ca.crt
      {{- if .Values.kafka.tls.certKey }}
      - key: {{ .Values.kafka.tls.certKey | quote }}
        path: tls.crt
      - key: {{ .Values.kafka.tls.keyKey | quote }}
        path: tls.key
      {{- end }}
{{- end }}
{{- end }}

{{- define "distillguard.tlsVolumeMount" -}}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: /etc/distillguard/tls
  readOnly: true
{{- end }}
{{- end }}
