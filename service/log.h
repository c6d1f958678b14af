/*
 * service/log.h - one line per event on stderr: "2026-11-23T04:30:00.123Z LEVEL message".
 * Thread-safe (one write per line). The libraries get svc_log_line as their log callback.
 * Control characters in a message (C0, DEL, C1 as UTF-8) are written as \xNN: messages carry
 * client text (paths, queries, names), and no line may forge another or reach a terminal as an
 * escape sequence.
 */
#ifndef SVC_LOG_H
#define SVC_LOG_H

void svc_logf(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A library log callback: `user` is the level string ("info" when NULL). */
void svc_log_line(void *user, const char *line);

#endif
