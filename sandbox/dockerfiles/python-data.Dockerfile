# isol8:python-data - isol8:python plus Debian's matplotlib, NumPy and pandas
# (no recommends), for data work and plots in code contexts. Built only on
# request: `isol8 setup --data-science`. Run it with the engine option
# `image: "isol8:python-data"` (CLI: --image isol8:python-data).
FROM isol8:python
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-matplotlib python3-numpy python3-pandas \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log
