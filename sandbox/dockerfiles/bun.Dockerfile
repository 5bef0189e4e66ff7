# isol8:bun - Bun on isol8:base. The build context holds the npm package
# @oven/bun-linux-* (in bun/), extracted on the host.
FROM isol8:base
COPY bun/package/bin/bun /usr/local/bin/bun
RUN ln -s bun /usr/local/bin/bunx
# No telemetry or crash-report uploads from sandboxes.
ENV DO_NOT_TRACK=1
