/* Leveled logging to stderr, one line per call, prefixed with a UTC timestamp. */
#ifndef KN_BASE_LOG_H
#define KN_BASE_LOG_H

typedef enum { KN_LOG_DEBUG, KN_LOG_INFO, KN_LOG_WARN, KN_LOG_ERROR } kn_log_level;

extern kn_log_level kn_log_threshold;

/* Parses "debug", "info", "warn", "error"; returns 0 or -1 if unknown. */
int kn_log_parse_level(const char *s, kn_log_level *out);
void kn_log(kn_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kn_debug(...) (kn_log_threshold <= KN_LOG_DEBUG ? kn_log(KN_LOG_DEBUG, __VA_ARGS__) : (void)0)
#define kn_info(...) kn_log(KN_LOG_INFO, __VA_ARGS__)
#define kn_warn(...) kn_log(KN_LOG_WARN, __VA_ARGS__)
#define kn_error(...) kn_log(KN_LOG_ERROR, __VA_ARGS__)

/* Broken invariant: log where and abort, in every build. */
#define KN_ASSERT(cond)                                                                                      \
    do {                                                                                                     \
        if (!(cond)) kn__assert_fail(#cond, __FILE__, __LINE__);                                             \
    } while (0)
void kn__assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
