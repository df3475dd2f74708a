# kea-operator: a static binary in an empty image. Built by images/build.sh (`just images`), which puts
# the binary and the CA bundle into a small context folder (the legacy builder uploads all of it).
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kea-operator" \
      org.opencontainers.image.description="Keeps ISC Kea DHCPv4 host reservations equal to NetworkConfiguration resources" \
      org.opencontainers.image.source="https://github.com/vitistack/kea-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# TLS to Kea and to the API server verifies against these roots when no CA file is configured.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kea-operator /kea-operator
# The chart's pod security context runs the same non-root UID.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/kea-operator"]
CMD ["run"]
