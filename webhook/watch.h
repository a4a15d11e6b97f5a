/* watch.h — the policy set being served, and the thread that replaces it.
 *
 * One background thread waits on inotify (policy directory, and the
 * directories of the TLS files) and on reload requests (SIGHUP); it loads a
 * complete new set off to the side and publishes it with one pointer swap.
 * Readers take a reference for the duration of a review. */
#ifndef LG_WATCH_H
#define LG_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "tls.h"

typedef struct lg_watch lg_watch;

/* Loads the initial set from dir. On failure returns NULL, *st says why and
 * diags holds every problem (the caller prints them and exits 2). tls may be
 * NULL (no certificate watching). */
lg_watch *lg_watch_new(const char *dir, lg_tls *tls, lg_diags *diags, lg_status *st);

/* Starts the watcher thread (debounce in ms between the last event and the
 * reload). False with a message in err when inotify or the thread fails. */
bool lg_watch_start(lg_watch *w, unsigned debounce_ms, char *err, size_t errsz);

/* The current set with one reference (release with lg_policy_set_unref). */
lg_policy_set *lg_watch_acquire(lg_watch *w);

/* Asks the watcher thread to reload policies and certificates now (SIGHUP). */
void lg_watch_request_reload(lg_watch *w);

/* Reloads the policies synchronously in the caller's thread (tests; the
 * thread uses the same function). True when the new set was published. */
bool lg_watch_reload_policies(lg_watch *w);

/* Stops the thread (if started) and drops the current set. NULL ok. */
void lg_watch_free(lg_watch *w);

#endif
