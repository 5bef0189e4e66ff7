/*
 * The files an image puts in /sandbox (see sandbox-seed.c).
 */
#ifndef ISOL8_SANDBOX_SEED_H
#define ISOL8_SANDBOX_SEED_H

/* Where an image keeps the files its build left in /sandbox (src/images/custom-image.ts
 * copies them here); /sandbox itself is a tmpfs that hides the image's. */
#define SANDBOX_SEED_DIR "/usr/local/share/isol8/sandbox-seed"

/* Copies SANDBOX_SEED_DIR's tree into an empty /sandbox, as whoever the
 * caller acts as (the sandbox user). 0 when done or when the image has no
 * seed; -1 (errno set) when an entry could not be copied. */
int sandbox_seed_copy(void);

#endif
