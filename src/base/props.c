#include "base/props.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static void put_utf8(kn_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        kn_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        kn_buf_putc(b, (char)(0xc0 | (cp >> 6)));
        kn_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        kn_buf_putc(b, (char)(0xe0 | (cp >> 12)));
        kn_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        kn_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        kn_buf_putc(b, (char)(0xf0 | (cp >> 18)));
        kn_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        kn_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        kn_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Java's loadConvert over the logical line s[0..n): resolves escapes into UTF-8. A pending high
 * surrogate from \uD8xx is joined with a following \uDCxx; a lone surrogate becomes U+FFFD. */
static int convert(const char *s, size_t n, kn_buf *out)
{
    unsigned high = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        unsigned char c = (unsigned char)s[i++];
        if (c != '\\') {
            cp = c; /* ISO-8859-1: the byte is the code point */
        } else {
            if (i == n) break; /* unreachable from the line reader; be safe */
            c = (unsigned char)s[i++];
            if (c == 'u') {
                if (n - i < 4) return -1;
                cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(s[i + (size_t)k]);
                    if (h < 0) return -1;
                    cp = cp << 4 | (unsigned)h;
                }
                i += 4;
            } else {
                cp = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
            }
        }
        if (high) {
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (cp - 0xdc00));
                high = 0;
                continue;
            }
            put_utf8(out, 0xfffd);
            high = 0;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            high = cp;
            continue;
        }
        put_utf8(out, cp >= 0xdc00 && cp <= 0xdfff ? 0xfffd : cp);
    }
    if (high) put_utf8(out, 0xfffd);
    return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, int line)
{
    if (err && errlen) snprintf(err, errlen, fmt, line);
}

/* Splits one logical line into key and value (Java's load0) and appends the entry. */
static int add_entry(kn_props *out, const char *s, size_t n, int line)
{
    size_t key_len = 0, value_start = n;
    bool has_sep = false, backslash = false;
    while (key_len < n) {
        char c = s[key_len];
        if ((c == '=' || c == ':') && !backslash) {
            value_start = key_len + 1;
            has_sep = true;
            break;
        }
        if (is_ws(c) && !backslash) {
            value_start = key_len + 1;
            break;
        }
        backslash = c == '\\' ? !backslash : false;
        key_len++;
    }
    while (value_start < n) {
        char c = s[value_start];
        if (!is_ws(c)) {
            if (!has_sep && (c == '=' || c == ':'))
                has_sep = true;
            else
                break;
        }
        value_start++;
    }
    kn_buf k = KN_BUF_INIT, v = KN_BUF_INIT;
    if (convert(s, key_len, &k) < 0 || convert(s + value_start, n - value_start, &v) < 0) {
        kn_buf_free(&k);
        kn_buf_free(&v);
        return -1;
    }
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 32;
        out->v = kn_xrealloc(out->v, out->cap * sizeof *out->v);
    }
    kn_prop *p = &out->v[out->n++];
    p->key = kn_xstrndup(k.data ? k.data : "", k.len);
    p->value = kn_xstrndup(v.data ? v.data : "", v.len);
    p->line = line;
    kn_buf_free(&k);
    kn_buf_free(&v);
    return 0;
}

int kn_props_parse(const char *data, size_t len, kn_props *out, char *err, size_t errlen)
{
    int rc = 0;
    kn_buf line = KN_BUF_INIT;
    size_t i = 0;
    int phys = 1;
    *out = (kn_props)KN_PROPS_INIT;
    while (i < len) {
        /* Start of a logical line: skip whitespace and blank lines. */
        char c = data[i];
        if (is_ws(c)) {
            i++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < len && data[i + 1] == '\n') i++;
            i++;
            phys++;
            continue;
        }
        int start_line = phys;
        if (c == '#' || c == '!') {
            while (i < len && data[i] != '\n' && data[i] != '\r') i++;
            continue; /* the terminator is consumed above */
        }
        kn_buf_reset(&line);
        bool backslash = false;
        for (;;) {
            if (i == len) {
                if (backslash) line.len--;
                break;
            }
            c = data[i++];
            if (c == '\n' || c == '\r') {
                if (c == '\r' && i < len && data[i] == '\n') i++;
                phys++;
                if (!backslash) break;
                /* Continuation: drop the '\' and the next line's leading whitespace. A
                 * terminator right after it ends the logical line. */
                line.len--;
                backslash = false;
                while (i < len && is_ws(data[i])) i++;
                continue;
            }
            kn_buf_putc(&line, c);
            backslash = c == '\\' ? !backslash : false;
        }
        if (add_entry(out, line.data ? line.data : "", line.len, start_line) < 0) {
            set_err(err, errlen, "line %d: malformed \\uxxxx encoding", start_line);
            rc = KN_EINVALID_ARGUMENT;
            goto fail;
        }
    }
    kn_buf_free(&line);
    return 0;
fail:
    kn_buf_free(&line);
    kn_props_free(out);
    return rc;
}

int kn_props_load(const char *path, kn_props *out, char *err, size_t errlen)
{
    int rc = KN_EIO, fd = -1;
    kn_buf b = KN_BUF_INIT;
    *out = (kn_props)KN_PROPS_INIT;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err) snprintf(err, errlen, "open(\"%s\") failed: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        char *dst = kn_buf_reserve(&b, 65536);
        ssize_t r = read(fd, dst, 65536);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (err) snprintf(err, errlen, "read(\"%s\") failed: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0) break;
        b.len += (size_t)r;
    }
    rc = kn_props_parse(b.data ? b.data : "", b.len, out, err, errlen);
fail:
    if (fd >= 0) close(fd);
    kn_buf_free(&b);
    return rc;
}

int kn_props_find(const kn_props *p, const char *key)
{
    for (size_t i = p->n; i-- > 0;)
        if (strcmp(p->v[i].key, key) == 0) return (int)i;
    return -1;
}

const char *kn_props_get(const kn_props *p, const char *key)
{
    int i = kn_props_find(p, key);
    return i < 0 ? NULL : p->v[i].value;
}

void kn_props_free(kn_props *p)
{
    for (size_t i = 0; i < p->n; i++) {

        free(p->v[i].key);
        free(p->v[i].value);
    }
    free(p->v);
    *p = (kn_props)KN_PROPS_INIT;
}
