{{/* Name of the release's objects (at most 40 characters, so that suffixes fit). */}}
{{- define "ctr.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object of the chart; call with (dict "root" $ "component" "name"). */}}
{{- define "ctr.labels" -}}
app.kubernetes.io/name: ctr
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: ctr
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Selector labels of a component; call like ctr.labels. */}}
{{- define "ctr.selectorLabels" -}}
app.kubernetes.io/name: ctr
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Name of the KafkaTopic object of a topic of .Values.topics; call with (dict "root" $ "key" "impressions"). */}}
{{- define "ctr.topicObjectName" -}}
{{ include "ctr.fullname" .root }}-{{ .key | kebabcase }}
{{- end -}}

{{/* The Kafka bootstrap address that Strimzi's Kafka serves. */}}
{{- define "ctr.bootstrapServers" -}}
{{ include "ctr.fullname" . }}-kafka-bootstrap:9092
{{- end -}}

{{/* An image of ours: repository and the one tag. */}}
{{- define "ctr.image" -}}
{{ .repository }}:{{ .root.Values.images.tag }}
{{- end -}}

{{/* Pod security context of our pods. */}}
{{- define "ctr.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context of our containers; readOnly says whether the root filesystem is read-only. */}}
{{- define "ctr.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly }}
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Seconds of a ctr duration ("500ms", "10s", "1.5m", "2h"), as a float. */}}
{{- define "ctr.seconds" -}}
{{- $duration := toString . -}}
{{- $unit := regexFind "(ms|s|m|h)$" $duration -}}
{{- $scale := get (dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0) $unit -}}
{{- mulf (trimSuffix $unit $duration | float64) $scale -}}
{{- end -}}

{{/* A `ctr job` setting of the chart's job, by camelCase name: job.settings' value, else ctr's default (files/job-defaults.json, generated from ctr's settings by `make generate`). */}}
{{- define "ctr.jobSetting" -}}
{{- $defaults := .root.Files.Get "files/job-defaults.json" | fromJson -}}
{{- index .root.Values.job.settings .name | default (get $defaults .name) -}}
{{- end -}}

{{/* The --timeout for `helm test`: the test pod's wait (tests.timeout), rounded up to minutes, plus a minute. */}}
{{- define "ctr.helmTestTimeout" -}}
{{- $seconds := include "ctr.seconds" .Values.tests.timeout | float64 -}}
{{- printf "%dm" (add1 (ceil (divf $seconds 60) | int)) -}}
{{- end -}}
