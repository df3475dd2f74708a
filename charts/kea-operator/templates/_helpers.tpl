{{/*
Names and labels shared by every template.
*/}}

{{- define "kea-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name, plus the chart name unless the release name already contains it.
Truncated to 63 characters because some Kubernetes name fields are limited to that (DNS labels).
*/}}
{{- define "kea-operator.fullname" -}}
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

{{/*
Cluster-scoped objects (ClusterRole, ClusterRoleBinding) carry the release namespace in their name,
so the same release name in two namespaces does not collide.
*/}}
{{- define "kea-operator.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "kea-operator.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "kea-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kea-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kea-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kea-operator.labels" -}}
helm.sh/chart: {{ include "kea-operator.chart" . }}
{{ include "kea-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: kea-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kea-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kea-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kea-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The owner marker's instance (KEA_OPERATOR_INSTANCE): the release name unless set.
*/}}
{{- define "kea-operator.instance" -}}
{{- .Values.operator.instance | default .Release.Name }}
{{- end }}

{{/*
HTTP_ADDR: bindAddress:port, IPv6 literals in brackets.
*/}}
{{- define "kea-operator.httpAddr" -}}
{{- $host := .Values.operator.http.bindAddress }}
{{- if contains ":" $host }}
{{- printf "[%s]:%d" $host (int .Values.operator.http.port) }}
{{- else }}
{{- printf "%s:%d" $host (int .Values.operator.http.port) }}
{{- end }}
{{- end }}

{{/*
Refuses value combinations the operator would refuse at start, so `helm install` fails with the fix
instead of a pod in CrashLoopBackOff.
*/}}
{{- define "kea-operator.validate" -}}
{{- $kea := .Values.kea }}
{{- if and $kea.basicAuth.existingSecret $kea.tls.clientCert.enabled }}
{{- fail "kea.basicAuth and kea.tls.clientCert are mutually exclusive (SPEC §5): choose one way to authenticate to Kea" }}
{{- end }}
{{- if and $kea.basicAuth.existingSecret (not $kea.basicAuth.username) }}
{{- fail "kea.basicAuth.existingSecret is set but kea.basicAuth.username is empty: set the user name" }}
{{- end }}
{{- if and $kea.basicAuth.username (not $kea.basicAuth.existingSecret) }}
{{- fail "kea.basicAuth.username is set but kea.basicAuth.existingSecret is empty: name the Secret holding the password" }}
{{- end }}
{{- if and $kea.tls.clientCert.enabled (not $kea.tls.existingSecret) }}
{{- fail "kea.tls.clientCert.enabled needs kea.tls.existingSecret: name the Secret holding the client certificate and key" }}
{{- end }}
{{- /* The primary URL as the operator resolves it: KEA_URL > KEA_BASE_URL > KEA_HOST (+ KEA_TLS_ENABLED). */}}
{{- $primary := $kea.url | default $kea.baseUrl }}
{{- if and (not $primary) $kea.host }}
{{- $primary = printf "%s://%s" (ternary "https" "http" $kea.tls.enabled) $kea.host }}
{{- end }}
{{- $https := or (hasPrefix "https://" $primary) (hasPrefix "https://" $kea.secondaryUrl) }}
{{- if $kea.tls.enabled }}
{{- range $name, $url := dict "the primary Kea URL" $primary "kea.secondaryUrl" $kea.secondaryUrl }}
{{- if and $url (not (hasPrefix "https://" $url)) }}
{{- fail (printf "%s uses http:// while kea.tls.enabled=true: write https:// or set kea.tls.enabled=false" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- $tlsOption := or (and $kea.tls.existingSecret $kea.tls.caKey) $kea.tls.clientCert.enabled $kea.tls.insecure $kea.tls.serverName }}
{{- if and $primary $tlsOption (not $https) }}
{{- fail "kea.tls options are set but no Kea URL uses https://: write https:// in the URLs (or set kea.tls.enabled=true with kea.host), or unset them" }}
{{- end }}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "leaderElection.enabled=false needs replicaCount=1: un-elected replicas would all write to Kea" }}
{{- end }}
{{- if and .Values.leaderElection.enabled (ge (float64 .Values.leaderElection.renewSeconds) (float64 .Values.leaderElection.leaseDurationSeconds)) }}
{{- fail "leaderElection.renewSeconds must be less than leaderElection.leaseDurationSeconds" }}
{{- end }}
{{- end }}

{{/*
A scalar as an environment variable value. Helm reads numbers as float64 and prints big ones in
exponent form (1000000 -> "1e+06"), which the operator's parsers refuse: whole numbers print as integers.
*/}}
{{- define "kea-operator.scalar" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}
