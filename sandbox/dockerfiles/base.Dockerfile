# isol8:base - every runtime image builds FROM this.
# Built by `isol8 setup` (src/images) with a generated context holding this
# file, the supervisor's sources (supervisor.c/.h, processes.c, egress-forwarder.c/.h and
# sandbox-seed.c/.h) and bootstrap/ (from sandbox/) and certs/ (extra CA
# certificates, one per isol8-extra-N.crt file; possibly none). Labels come
# as build options.

# --- Stage 1: the in-container supervisor, a static binary --------------------
FROM isol8:debian-bookworm AS supervisor
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY supervisor.c supervisor.h processes.c egress-forwarder.c egress-forwarder.h sandbox-seed.c sandbox-seed.h files.c /src/
RUN gcc -O2 -static -o /isol8-supervisor /src/supervisor.c /src/processes.c /src/egress-forwarder.c /src/sandbox-seed.c /src/files.c \
 && chmod 0755 /isol8-supervisor

# --- Stage 2: the base image --------------------------------------------------
FROM isol8:debian-bookworm
ARG DEBIAN_FRONTEND=noninteractive
ENV LANG=C.UTF-8

RUN apt-get update \
 && apt-get upgrade -y \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log

# Trust the extra CA certificates: each one Debian's store lacks goes to
# /usr/local/share/ca-certificates/ (one certificate per file, as
# update-ca-certificates and openssl rehash expect), then the bundle
# /etc/ssl/certs/ca-certificates.crt is regenerated.
COPY certs/ /tmp/isol8-certs/
RUN set -eu; \
    body() { awk '/-----/ { next } { gsub(/[ \t\r]/, ""); printf "%s", $0 } END { print "" }' "$1"; }; \
    for f in /usr/share/ca-certificates/mozilla/*.crt; do body "$f"; done > /tmp/isol8-known; \
    for f in /tmp/isol8-certs/*.crt; do \
      [ -e "$f" ] || continue; \
      if ! grep -qxF "$(body "$f")" /tmp/isol8-known; then \
        cp "$f" /usr/local/share/ca-certificates/; \
      fi; \
    done; \
    chmod 0644 /usr/local/share/ca-certificates/* 2>/dev/null || true; \
    update-ca-certificates; \
    rm -rf /tmp/isol8-certs /tmp/isol8-known

# The sandbox user: uid 100 in group users (gid 100), home /sandbox (0700).
# /home/user, the home folder E2B code expects (src/e2b/), is /sandbox too.
RUN useradd --system --uid 100 --gid 100 --no-create-home --home-dir /sandbox --shell /bin/bash sandbox \
 && mkdir -p /sandbox /home \
 && chown 100:100 /sandbox \
 && chmod 0700 /sandbox \
 && ln -s /sandbox /home/user

COPY --from=supervisor /isol8-supervisor /usr/local/bin/isol8-supervisor
# The interpreters' prestart bootstraps (see 'P' in supervisor.c), read-only for everyone.
COPY bootstrap/ /usr/local/lib/isol8/
RUN chmod 0755 /usr/local/lib/isol8 && chmod 0644 /usr/local/lib/isol8/*
# Where a filtered sandbox gets its egress proxy's socket, mounted read-only
# (see egress-forwarder.c); made here so Docker need not.
RUN mkdir -p /run/isol8 && chown 0:0 /run/isol8 && chmod 0755 /run/isol8
