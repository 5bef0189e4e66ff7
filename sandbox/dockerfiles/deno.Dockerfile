# isol8:deno - Deno on isol8:base. The build context holds the npm package
# @deno/linux-<arch>-glibc (in deno/), extracted on the host.
FROM isol8:base
COPY deno/package/deno /usr/local/bin/deno
# Never ask for permissions interactively, never look for a newer Deno.
ENV DENO_NO_PROMPT=1 \
    DENO_NO_UPDATE_CHECK=1
