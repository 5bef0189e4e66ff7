# isol8:debian-bookworm when a registry is reachable: the official slim image,
# re-tagged with isol8's labels (given as build options). Without a registry,
# isol8 bootstraps the same distribution with debootstrap and imports it.
FROM debian:bookworm-slim
