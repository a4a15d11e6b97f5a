/* log.h — structured log lines for the server: one JSON object per line on
 * stderr (time, level, event, fields). Thread-safe; lines never interleave.
 * Front-only: the engine never logs. */
#ifndef LG_LOG_H
#define LG_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "engine.h"

typedef enum lg_log_level {
    LG_LOG_DEBUG = 0,
    LG_LOG_INFO,
    LG_LOG_WARN,
    LG_LOG_ERROR,
} lg_log_level;

bool lg_log_level_parse(const char *s, lg_log_level *out);
const char *lg_log_level_name(lg_log_level l);

/* Lines at or above min go to fd (default: 2 and info). Call before threads start. */
void lg_log_setup(int fd, lg_log_level min);

/* From now on a writer thread does the writing; lines wait in a queue of at
 * most max_bytes and are dropped (and counted) past it, so a slow or stalled
 * fd never blocks a caller. lg_log_stop_async() writes what is queued and
 * returns to direct writes. */
bool lg_log_start_async(size_t max_bytes);
void lg_log_stop_async(void);
uint64_t lg_log_dropped(void); /* lines dropped because the queue was full */
bool lg_log_enabled(lg_log_level l);

/* Writes {"time","level","event", ...fields}. fields (a JSON object, may be
 * NULL) is consumed. Strings that are not valid UTF-8 must not be put in fields
 * directly: use lg_log_str(). */
void lg_log_event(lg_log_level l, const char *event, json_t *fields);

/* {"time","level","event","msg": printf(fmt, ...)} */
void lg_log_msg(lg_log_level l, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A JSON string for any bytes: invalid UTF-8 and NUL become '?'. NULL gives JSON null. */
json_t *lg_log_str(const char *s);

/* The decision line of one /validate or /mutate request (info level). */
void lg_log_decision(const char *endpoint, const lg_review_result *r, int http_status,
                     long long duration_us);

#endif
