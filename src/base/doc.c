#include "base/doc.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cbor.h"

bool kn_utf8_valid(const char *str, size_t n, bool no_controls, bool no_nul)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
    while (s < end) {
        /* eight ASCII bytes at a time: no high bit set and, when controls are refused, no byte
         * below 0x20 (w - 0x20.. borrows into a byte's high bit exactly when it is below 0x20) */
        if ((size_t)(end - s) >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            bool ascii = (w & high) == 0;
            if (ascii && (!(no_controls || no_nul) || ((w - ones * 0x20) & ~w & high) == 0)) {
                s += 8;
                continue;
            }
        }
        unsigned c = *s;
        if (c < 0x80) {
            if (c == 0 && no_nul) return false;
            if (c < 0x20 && no_controls && c != '\t' && c != '\n' && c != '\r') return false;
            s++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xbf; /* the second byte's range (RFC 3629's table) */
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0; /* overlong */
            if (c == 0xed) hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90; /* overlong */
            if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
        } else {
            return false;
        }
        if ((size_t)(end - s) <= need) return false;
        if (s[1] < lo || s[1] > hi) return false;
        for (size_t i = 2; i <= need; i++)
            if ((s[i] & 0xc0) != 0x80) return false;
        s += need + 1;
    }
    return true;
}

/* ---- duplicate keys ---- */

typedef struct member {
    cJSON *item;
    size_t pos;
} member;

static int by_key_then_pos(const void *a, const void *b)
{
    const member *x = a, *y = b;
    int c = strcmp(x->item->string, y->item->string);
    if (c) return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

#define SMALL_OBJECT 16

/* Drops every member of obj that a later member with the same key overrides. */
static void collapse_object(cJSON *obj)
{
    size_t n = 0;
    for (cJSON *m = obj->child; m; m = m->next)
        n++;
    if (n < 2) return;
    if (n <= SMALL_OBJECT) {
        for (cJSON *m = obj->child, *next; m; m = next) {
            next = m->next;
            for (cJSON *later = next; later; later = later->next)
                if (strcmp(m->string, later->string) == 0) {
                    cJSON_Delete(cJSON_DetachItemViaPointer(obj, m));
                    break;
                }
        }
        return;
    }
    member *ms = kn_xmalloc(n * sizeof *ms);
    size_t i = 0;
    for (cJSON *m = obj->child; m; m = m->next, i++)
        ms[i] = (member){m, i};
    qsort(ms, n, sizeof *ms, by_key_then_pos);
    for (i = 0; i + 1 < n; i++)
        if (strcmp(ms[i].item->string, ms[i + 1].item->string) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, ms[i].item));
    free(ms);
}

static bool collapse(cJSON *v, int depth, int max_depth)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return true;
    if (depth > max_depth) return false;
    if (cJSON_IsObject(v)) collapse_object(v);
    for (cJSON *m = v->child; m; m = m->next)
        if (!collapse(m, depth + 1, max_depth)) return false;
    return true;
}

bool kn_doc_collapse_keys(cJSON *root, int max_depth)
{
    return collapse(root, 1, max_depth);
}

/* ---- parsing ---- */

/* True when the JSON text holds the escape \u0000 (a backslash that is not itself escaped). */
static bool has_nul_escape(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while ((p = memmem(p, (size_t)(end - p), "\\u0000", 6)) != NULL) {
        size_t slashes = 0;
        for (const char *q = p; q >= s && *q == '\\'; q--)
            slashes++;
        if (slashes % 2 == 1) return true;
        p += 6;
    }
    return false;
}

static kn_doc_status parse_json(const char *body, size_t len, cJSON **out, const char **detail)
{
    if (!kn_utf8_valid(body, len, true, true)) {
        *detail = "Invalid UTF-8 or an unescaped control character in the request body";
        return KN_DOC_ENCODING;
    }
    if (has_nul_escape(body, len)) {
        *detail = "NUL characters (\\u0000) are not supported in strings";
        return KN_DOC_ENCODING;
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!v) return KN_DOC_SYNTAX;
    while (end < body + len && isspace((unsigned char)*end))
        end++;
    if (end != body + len) return KN_DOC_SYNTAX; /* trailing bytes */
    *out = v;
    return KN_DOC_OK;
}

kn_doc_status kn_doc_parse(const void *body, size_t len, bool cbor, kn_arena *arena, size_t budget,
                           cJSON **out, const char **detail)
{
    const char *why = NULL;
    cJSON *v = NULL;
    kn_doc_status st;
    size_t saved = arena->json_budget;
    arena->json_budget = budget ? arena->json_used + budget : 0;
    kn_json_use_arena(arena);
    if (cbor) {
        bool bad_text = false;
        v = kn_cbor_decode(body, len, &bad_text);
        st = v ? KN_DOC_OK : bad_text ? KN_DOC_ENCODING : KN_DOC_SYNTAX;
        if (bad_text) why = "Invalid UTF-8 or a NUL character in a text string";
    } else {
        st = parse_json(body, len, &v, &why);
    }
    bool over = budget && arena->json_used + 64 >= arena->json_budget;
    kn_json_use_arena(NULL);
    arena->json_budget = saved;
    if (st == KN_DOC_SYNTAX && over) {
        st = KN_DOC_BUDGET; /* cJSON reports a refused allocation as a failed parse */
        why = "The request is too complex to parse: it has too many elements for its size";
    }
    if (st == KN_DOC_OK && !kn_doc_collapse_keys(v, KN_DOC_MAX_DEPTH)) {
        st = KN_DOC_DEPTH;
        why = "The request nests too deeply";
    }
    *out = st == KN_DOC_OK ? v : NULL;
    if (detail) *detail = why;
    return st;
}
