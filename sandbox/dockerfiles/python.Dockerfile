# isol8:python - Debian's python3 (3.11) and pip on isol8:base. Packages baked
# with `isol8 setup --python` (or `isol8 build --base python --install`) go
# into the system site-packages with pip --break-system-packages.
FROM isol8:base
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log
