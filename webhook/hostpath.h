/* hostpath.h — lexical normalisation of hostPath paths (leaf module, no deps).
 * "//dev//kvm", "/dev/./kvm", "/dev/kvm/" and "/dev/../dev/kvm" all become
 * "/dev/kvm"; ".." never climbs above "/". Symlinks on the node cannot be seen
 * from here, which is why grants name exact paths and parents never match. */
#ifndef LG_HOSTPATH_H
#define LG_HOSTPATH_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the normalised form of in (which should be absolute; a relative path
 * is treated as relative to "/") into out. Returns false if out is too small. */
bool lg_hostpath_normalize(const char *in, char *out, size_t outsz);

#endif
