{{/*
Where the operator works, and what it runs there. A RecommenderModel chooses images and a
database Secret, and the operator's ServiceAccount creates the pods: so the operator watches only
listed namespaces unless operator.scope=cluster, and runs only allowed image repositories.
*/}}

{{/* The watched namespaces, comma-separated; "" = every namespace (operator.scope=cluster). */}}
{{- define "netflicks.operatorNamespaces" -}}
{{- $o := .Values.operator -}}
{{- if eq $o.scope "cluster" -}}
{{- if or $o.watchNamespace $o.watchNamespaces -}}
{{- fail "operator: scope=cluster watches every namespace; remove operator.watchNamespaces (and watchNamespace) or set operator.scope=namespaced" -}}
{{- end -}}
{{- else -}}
{{- $list := $o.watchNamespaces | default list -}}
{{- with $o.watchNamespace }}{{ $list = append $list . }}{{ end -}}
{{- if not $list }}{{ $list = list .Release.Namespace }}{{ end -}}
{{- if and .Values.model.enabled (not (has .Release.Namespace $list)) -}}
{{- fail (printf "operator: model.enabled puts the model in the release namespace %s, which operator.watchNamespaces leaves out; add it" .Release.Namespace) -}}
{{- end -}}
{{- $list | uniq | join "," -}}
{{- end -}}
{{- end -}}

{{/* An image's repository without tag: images.registry + repository. */}}
{{- define "netflicks.imageRepository" -}}
{{- $repo := .image.repository -}}
{{- with .ctx.Values.images.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end -}}
{{- $repo -}}
{{- end -}}

{{/*
OPERATOR_ALLOWED_IMAGES: the chart's trainer and recommend-API repositories, the shared runtime
image `netflicks` a RecommenderModel gets by default (the CRD's default image), all under
images.registry; then operator.allowedImages.
*/}}
{{- define "netflicks.operatorAllowedImages" -}}
{{- $runtime := dict "repository" "netflicks" -}}
{{- $own := list (include "netflicks.imageRepository" (dict "ctx" . "image" .Values.images.trainer)) (include "netflicks.imageRepository" (dict "ctx" . "image" .Values.images.recommendApi)) (include "netflicks.imageRepository" (dict "ctx" . "image" $runtime)) -}}
{{- concat $own .Values.operator.allowedImages | uniq | join "," -}}
{{- end -}}

{{/* The operator's rules, the same in a ClusterRole or in each namespace's Role (see operator-rbac.yaml). */}}
{{- define "netflicks.operatorRules" -}}
rules:
  - apiGroups: [netflicks.dev]
    resources: [recommendermodels]
    verbs: [get, list, watch]
  - apiGroups: [netflicks.dev]
    resources: [trainingruns]
    verbs: [get, list, watch, create, delete, patch]
  - apiGroups: [netflicks.dev]
    resources: [recommendermodels/status, trainingruns/status]
    verbs: [patch]
  - apiGroups: [netflicks.dev]
    resources: [recommendermodels/finalizers, trainingruns/finalizers]
    verbs: [update]
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [get, list, watch, create, patch]
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, watch, create, patch]
  - apiGroups: [""]
    resources: [services]
    verbs: [create, patch]
  - apiGroups: [autoscaling]
    resources: [horizontalpodautoscalers]
    verbs: [create, patch]
  - apiGroups: [policy]
    resources: [poddisruptionbudgets]
    verbs: [create, patch]
  - apiGroups: [monitoring.coreos.com]
    resources: [servicemonitors]
    verbs: [create, patch]
  - apiGroups: [events.k8s.io]
    resources: [events]
    verbs: [create]
{{- end -}}
