# kea-sim: the Kea 3.0 control-API simulator as a static binary in an empty image, with an example
# Kea config. Built by images/build.sh (`just images`). Run:
#   docker run --rm -p 8000:8000 -p 8001:8001 kea-sim:dev
# Your own config: -v $PWD/kea-dhcp4.json:/etc/kea-sim/kea-dhcp4.json (kea-sim honours its subnets,
# hooks, control socket and hosts database; --listen below overrides the socket address).
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kea-sim" \
      org.opencontainers.image.description="Stateful simulator of the ISC Kea 3.0 DHCPv4 control API, with failure injection" \
      org.opencontainers.image.source="https://github.com/vitistack/kea-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kea-sim /kea-sim
# Owned by the runtime user: config-write persists reservations into the config file, as Kea does.
COPY --chown=65532:65532 etc-kea-sim/ /etc/kea-sim/
USER 65532:65532
# 8000: the Kea control socket; 8001: kea-sim's admin API (state, faults, DHCP actions).
EXPOSE 8000 8001
ENTRYPOINT ["/kea-sim"]
CMD ["--config", "/etc/kea-sim/kea-dhcp4.json", "--listen", "0.0.0.0:8000", "--admin-listen", "0.0.0.0:8001"]
