/* log.h - structured JSON logs, one object per line on stderr.
 * Owns: the line format {"ts","level","msg", key: value...}. Not: where lines go next. */
#ifndef DS_LOG_H
#define DS_LOG_H

/* log_kv("info", "reconciled", "vpc", id, "outcome", "converged", NULL): pairs of strings
 * after the message, ended by NULL. */
void log_kv(const char *level, const char *msg, ...) __attribute__((sentinel));

#endif
