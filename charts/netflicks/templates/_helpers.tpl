{{/* Names -------------------------------------------------------------------------------- */}}

{{- define "netflicks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; components append -operator, -ingest, … (kept under 63 chars). */}}
{{- define "netflicks.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "netflicks.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels (helm.sh/docs/chart_best_practices/labels) ------------------------------------- */}}

{{/* Selector labels of one component: include "netflicks.selectorLabels" (dict "ctx" $ "component" "operator") */}}
{{- define "netflicks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netflicks.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of one component's objects. */}}
{{- define "netflicks.labels" -}}
helm.sh/chart: {{ include "netflicks.chart" .ctx }}
{{ include "netflicks.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: netflicks
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of monitoring objects: the `release` label kube-prometheus-stack selects on. */}}
{{- define "netflicks.monitoringLabels" -}}
{{ include "netflicks.labels" . }}
release: {{ default .ctx.Release.Name .ctx.Values.monitoring.prometheusRelease | quote }}
{{- end -}}

{{/* Images --------------------------------------------------------------------------------- */}}

{{/* include "netflicks.image" (dict "ctx" $ "image" .Values.images.operator) */}}
{{- define "netflicks.image" -}}
{{- $tag := .image.tag | default .ctx.Values.images.tag | default .ctx.Chart.AppVersion | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "images: the tag `latest` is mutable (kind and the kubelet would keep a stale image); use a version or a digest" -}}
{{- end -}}
{{- $repo := include "netflicks.imageRepository" . -}}
{{- if hasPrefix "sha256:" $tag -}}
{{- printf "%s@%s" $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{- define "netflicks.imagePullSecrets" -}}
{{- with .Values.images.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Dependencies: PostgreSQL and Kafka ---------------------------------------------------- */}}

{{/* Fails with a clear message unless exactly one PostgreSQL source is configured. */}}
{{- define "netflicks.validateDependencies" -}}
{{- $pg := .Values.postgres -}}
{{- if and $pg.bundled.enabled $pg.urlSecret.name -}}
{{- fail "postgres: set either postgres.bundled.enabled=true or postgres.urlSecret.name, not both" -}}
{{- end -}}
{{- if not (or $pg.bundled.enabled $pg.urlSecret.name) -}}
{{- fail "postgres: no database. Set postgres.urlSecret.name (an existing Secret with the postgresql:// URL) or postgres.bundled.enabled=true (development)" -}}
{{- end -}}
{{- $kafka := .Values.kafka -}}
{{- if and $kafka.bundled.enabled $kafka.brokers -}}
{{- fail "kafka: set either kafka.bundled.enabled=true or kafka.brokers, not both" -}}
{{- end -}}
{{- if and (not (or $kafka.bundled.enabled $kafka.brokers)) (or .Values.ingest.enabled .Values.simulator.enabled) -}}
{{- fail "kafka: ingest/simulator need brokers. Set kafka.brokers (host:port,…) or kafka.bundled.enabled=true (development)" -}}
{{- end -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.leaderElection) -}}
{{- fail "operator: more than one replica needs operator.leaderElection=true (two leaders would reconcile the same objects)" -}}
{{- end -}}
{{- if and .Values.model.trainOnInstall (not .Values.model.enabled) -}}
{{- fail "model.trainOnInstall needs model.enabled=true" -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key holding the PostgreSQL URL. */}}
{{- define "netflicks.databaseSecretName" -}}
{{- if .Values.postgres.bundled.enabled -}}
{{- printf "%s-postgres" (include "netflicks.fullname" .) -}}
{{- else -}}
{{- .Values.postgres.urlSecret.name -}}
{{- end -}}
{{- end -}}

{{- define "netflicks.databaseSecretKey" -}}
{{- if .Values.postgres.bundled.enabled -}}url{{- else -}}{{ .Values.postgres.urlSecret.key }}{{- end -}}
{{- end -}}

{{- define "netflicks.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "netflicks.databaseSecretName" . }}
      key: {{ include "netflicks.databaseSecretKey" . }}
{{- end -}}

{{- define "netflicks.kafkaBrokers" -}}
{{- if .Values.kafka.bundled.enabled -}}
{{- printf "%s-kafka.%s.svc:9092" (include "netflicks.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.kafka.brokers -}}
{{- end -}}
{{- end -}}

{{/* Pod plumbing shared by every Netflicks container ------------------------------------- */}}

{{/* The writable scratch space a read-only root filesystem leaves: /tmp. */}}
{{- define "netflicks.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "netflicks.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* nodeSelector / tolerations / affinity of one component's values. */}}
{{- define "netflicks.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
A Service's endpoint addresses as CIDRs (JSON list), from its EndpointSlices at install; [] under
helm template (lookup returns nothing there). Args: namespace, service.
*/}}
{{- define "netflicks.serviceEndpointCidrs" -}}
{{- $out := list -}}
{{- range (get (lookup "discovery.k8s.io/v1" "EndpointSlice" .namespace "") "items") | default list -}}
{{- if eq (get (.metadata.labels | default dict) "kubernetes.io/service-name") $.service -}}
{{- range .endpoints }}{{ range .addresses }}{{ $out = append $out (printf "%s/%s" . (ternary "128" "32" (contains ":" .))) }}{{ end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- $out | uniq | toJson -}}
{{- end -}}

{{/* A Service's endpoint ports (JSON list), from its EndpointSlices at install. Args: namespace, service. */}}
{{- define "netflicks.serviceEndpointPorts" -}}
{{- $out := list -}}
{{- range (get (lookup "discovery.k8s.io/v1" "EndpointSlice" .namespace "") "items") | default list -}}
{{- if eq (get (.metadata.labels | default dict) "kubernetes.io/service-name") $.service -}}
{{- range .ports }}{{ $out = append $out (int .port) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- $out | uniq | toJson -}}
{{- end -}}
