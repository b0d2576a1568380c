#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

kn_log_level kn_log_threshold = KN_LOG_INFO;

static const char *const names[] = {"debug", "info", "warn", "error"};

int kn_log_parse_level(const char *s, kn_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (kn_log_level)i;
            return 0;
        }
    return -1;
}

void kn_log(kn_log_level level, const char *fmt, ...)
{
    if (level < kn_log_threshold) return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ %-5s ", (int)(tv.tv_usec / 1000), names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}

void kn__assert_fail(const char *expr, const char *file, int line)
{
    kn_log(KN_LOG_ERROR, "assertion failed: %s at %s:%d", expr, file, line);
    abort();
}
