# lanegate admission webhook image.
#   docker build -t lanegate:dev .
# Build stage: Debian bookworm with the -dev packages; runtime stage:
# bookworm-slim with only the shared libraries lanegate links (the list is
# checked against `ldd` by tests/e2e/image.sh), running as 65532 (no root, no
# shell needed). Kubernetes mounts the policies ConfigMap over
# /etc/lanegate/policies and the TLS Secret at /etc/lanegate/tls.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libmicrohttpd-dev libgnutls28-dev libjansson-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile lanegate.1 ./
COPY webhook/ webhook/
COPY policies/ policies/
RUN make build/lanegate \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && strip /out/usr/local/bin/lanegate

FROM debian:bookworm-slim
# runtime libraries: one per library lanegate links (tests/e2e/image.sh)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libgnutls30 libjansson4 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/bin/lanegate /usr/local/bin/lanegate
COPY --from=build /out/usr/local/share/man/man1/lanegate.1 /usr/local/share/man/man1/lanegate.1
# Default policies, replaced in a cluster by the lanegate-policies ConfigMap.
COPY --from=build /out/usr/local/share/lanegate/policies/ /etc/lanegate/policies/
# Certificates are mounted here (Secret lanegate-tls: tls.crt, tls.key).
RUN mkdir -p /etc/lanegate/tls
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["lanegate", "serve"]
CMD ["--policies", "/etc/lanegate/policies", "--tls-cert", "/etc/lanegate/tls/tls.crt", "--tls-key", "/etc/lanegate/tls/tls.key", "--listen", "0.0.0.0:8443"]
