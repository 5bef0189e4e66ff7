/*
 * The filtered network's egress forwarder, started by isol8-supervisor (see
 * egress-forwarder.c).
 */
#ifndef ISOL8_EGRESS_FORWARDER_H
#define ISOL8_EGRESS_FORWARDER_H

#include <sys/types.h>

/* Starts the forwarder if the engine mounted its proxy's socket at
 * /run/isol8/egress.sock. Returns the forwarder's pid, 0 when the sandbox
 * has no such socket (no filtered network), or -1 with errno set and
 * *failed naming the step that failed: the caller must then not run
 * anything, since the proxy port could be taken by a program. */
pid_t egress_forwarder_start(const char **failed);

#endif
