#include "server/ddb/attr.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/b64.h"
#include "base/err.h"

#define PREFIX "One or more parameter values were invalid: "
#define MAX_EXP 126  /* 0.d * 10^126 = d.ddd E+125 */
#define MIN_EXP -129 /* 0.d * 10^-129 = d.ddd E-130 */

/* ---- decimals ---- */

ddb_num_status ddb_dec_parse(const char *s, ddb_dec *out)
{
    const char *p = s;
    memset(out, 0, sizeof *out);
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    long pos = 0, int_len = -1, first_nz = -1, ndig = 0, pending_zeros = 0;
    bool any = false;
    for (;; p++) {
        if (*p == '.') {
            if (int_len >= 0) return DDB_NUM_NOT_NUMERIC;
            int_len = pos;
            continue;
        }
        if (*p < '0' || *p > '9') break;
        any = true;
        int d = *p - '0';
        if (d == 0) {
            if (first_nz >= 0) pending_zeros++;
        } else {
            if (first_nz < 0) first_nz = pos;
            /* zeros between significant digits are significant */
            for (; pending_zeros > 0; pending_zeros--, ndig++)
                if (ndig < DDB_MAX_DIGITS) out->d[ndig] = 0;
            if (ndig < DDB_MAX_DIGITS) out->d[ndig] = (unsigned char)d;
            ndig++;
        }
        pos++;
    }
    if (!any) return DDB_NUM_NOT_NUMERIC;
    if (int_len < 0) int_len = pos;
    long e10 = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-') eneg = *p++ == '-';
        if (*p < '0' || *p > '9') return DDB_NUM_NOT_NUMERIC;
        for (; *p >= '0' && *p <= '9'; p++)
            if (e10 < 100000) e10 = e10 * 10 + (*p - '0');
        if (eneg) e10 = -e10;
    }
    if (*p) return DDB_NUM_NOT_NUMERIC;
    if (first_nz < 0) return DDB_NUM_OK; /* zero, whatever its sign or exponent */
    long exp = int_len - first_nz + e10;
    if (exp > MAX_EXP) return DDB_NUM_OVERFLOW;
    if (exp < MIN_EXP) return DDB_NUM_UNDERFLOW;
    if (ndig > DDB_MAX_DIGITS) return DDB_NUM_PRECISION;
    out->neg = neg;
    out->n = (int)ndig;
    out->exp = (int)exp;
    return DDB_NUM_OK;
}

size_t ddb_dec_format(const ddb_dec *x, char out[200])
{
    size_t k = 0;
    if (x->n == 0) {
        out[0] = '0';
        out[1] = '\0';
        return 1;
    }
    if (x->neg) out[k++] = '-';
    if (x->exp <= 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -x->exp; i++)
            out[k++] = '0';
        for (int i = 0; i < x->n; i++)
            out[k++] = (char)('0' + x->d[i]);
    } else {
        for (int i = 0; i < x->n || i < x->exp; i++) {
            if (i == x->exp) out[k++] = '.';
            out[k++] = (char)('0' + (i < x->n ? x->d[i] : 0));
        }
    }
    out[k] = '\0';
    return k;
}

static int sign_of(const ddb_dec *x)
{
    return x->n == 0 ? 0 : x->neg ? -1 : 1;
}

static int mag_cmp(const ddb_dec *a, const ddb_dec *b)
{
    if (a->exp != b->exp) return a->exp < b->exp ? -1 : 1;
    for (int i = 0; i < a->n && i < b->n; i++)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
}

int ddb_dec_cmp(const ddb_dec *a, const ddb_dec *b)
{
    int sa = sign_of(a), sb = sign_of(b);
    if (sa != sb) return sa < sb ? -1 : 1;
    if (sa == 0) return 0;
    int m = mag_cmp(a, b);
    return sa > 0 ? m : -m;
}

#define WIDE 400 /* powers 10^-(129+38) .. 10^127 fit with room for a carry */

ddb_num_status ddb_dec_add(const ddb_dec *a, const ddb_dec *b, bool subtract, ddb_dec *out)
{
    ddb_dec bb = *b;
    if (subtract) bb.neg = !bb.neg;
    if (a->n == 0 || bb.n == 0) {
        *out = a->n == 0 ? bb : *a;
        if (out->n == 0) out->neg = false;
        return DDB_NUM_OK;
    }
    int lo = a->exp - a->n < bb.exp - bb.n ? a->exp - a->n : bb.exp - bb.n;
    int da[WIDE] = {0}, db[WIDE] = {0}, r[WIDE] = {0};
    for (int i = 0; i < a->n; i++)
        da[a->exp - 1 - i - lo] = a->d[i];
    for (int i = 0; i < bb.n; i++)
        db[bb.exp - 1 - i - lo] = bb.d[i];
    bool neg;
    if (a->neg == bb.neg) {
        int carry = 0;
        for (int i = 0; i < WIDE; i++) {
            int s = da[i] + db[i] + carry;
            r[i] = s % 10;
            carry = s / 10;
        }
        neg = a->neg;
    } else {
        int m = mag_cmp(a, &bb);
        if (m == 0) {
            memset(out, 0, sizeof *out);
            return DDB_NUM_OK;
        }
        int *big = m > 0 ? da : db, *small = m > 0 ? db : da;
        int borrow = 0;
        for (int i = 0; i < WIDE; i++) {
            int s = big[i] - small[i] - borrow;
            borrow = s < 0;
            r[i] = s < 0 ? s + 10 : s;
        }
        neg = m > 0 ? a->neg : bb.neg;
    }
    int hi = WIDE - 1, low = 0;
    while (hi > 0 && r[hi] == 0)
        hi--;
    while (low < hi && r[low] == 0)
        low++;
    int exp = hi + lo + 1;
    if (exp > MAX_EXP) return DDB_NUM_OVERFLOW;
    if (exp < MIN_EXP) return DDB_NUM_UNDERFLOW;
    if (hi - low + 1 > DDB_MAX_DIGITS) return DDB_NUM_PRECISION;
    memset(out, 0, sizeof *out);
    out->neg = neg;
    out->exp = exp;
    out->n = hi - low + 1;
    for (int i = 0; i < out->n; i++)
        out->d[i] = (unsigned char)r[hi - i];
    return DDB_NUM_OK;
}

void ddb_num_message(ddb_num_status st, const char *text, kn_buf *msg)
{
    switch (st) {
    case DDB_NUM_OK:
        break;
    case DDB_NUM_NOT_NUMERIC:
        kn_buf_printf(msg, "The parameter cannot be converted to a numeric value: %s", text);
        break;
    case DDB_NUM_OVERFLOW:
        kn_buf_puts(
            msg, "Number overflow. Attempting to store a number with magnitude larger than supported range");
        break;
    case DDB_NUM_UNDERFLOW:
        kn_buf_puts(
            msg,
            "Number underflow. Attempting to store a number with magnitude smaller than supported range");
        break;
    case DDB_NUM_PRECISION:
        kn_buf_puts(msg, "Attempting to store more than 38 significant digits in a Number");
        break;
    }
}

ddb_num_status ddb_num_normalize(const char *s, char **out)
{
    ddb_dec x;
    ddb_num_status st = ddb_dec_parse(s, &x);
    if (st != DDB_NUM_OK) return st;
    char buf[200];
    size_t n = ddb_dec_format(&x, buf);
    *out = kn_xstrndup(buf, n);
    return DDB_NUM_OK;
}

int ddb_num_cmp(const char *a, const char *b)
{
    ddb_dec x, y;
    if (ddb_dec_parse(a, &x) != DDB_NUM_OK) memset(&x, 0, sizeof x);
    if (ddb_dec_parse(b, &y) != DDB_NUM_OK) memset(&y, 0, sizeof y);
    return ddb_dec_cmp(&x, &y);
}

/* ---- AttributeValues ---- */

static const char *const TYPES[] = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};

const char *ddb_av_type(const cJSON *av, cJSON **val)
{
    const char *type = NULL;
    if (!cJSON_IsObject(av)) return NULL;
    for (cJSON *m = av->child; m; m = m->next) {
        if (cJSON_IsNull(m)) continue;
        for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
            if (m->string && strcmp(m->string, TYPES[i]) == 0) {
                if (type) return NULL;
                type = TYPES[i];
                if (val) *val = m;
            }
    }
    return type;
}

unsigned char *ddb_b64_bytes(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *out = kn_xmalloc(kn_b64_decoded_max(n) + 1);
    if (kn_b64_decode(s, n, out, len, NULL) != KN_B64_OK) *len = 0;
    return out;
}

static int serr(kn_buf *msg, const char *text)
{
    kn_buf_puts(msg, text);
    return KN_ESERIALIZATION;
}

static int verr(kn_buf *msg, const char *text)
{
    kn_buf_puts(msg, text);
    return KN_EVALIDATION;
}

static int check_b64(const char *s, kn_buf *msg)
{
    size_t n = strlen(s), dl;
    unsigned char *tmp = kn_xmalloc(kn_b64_decoded_max(n) + 1);
    kn_b64_status st = kn_b64_decode(s, n, tmp, &dl, NULL);
    free(tmp);
    if (st == KN_B64_BAD_LENGTH) {
        kn_buf_printf(msg, "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", n);
        return KN_ESERIALIZATION;
    }
    if (st != KN_B64_OK) return serr(msg, "Invalid Base64 character found in a binary value");
    return 0;
}

static int check_num(cJSON *v, kn_buf *msg)
{
    if (!cJSON_IsString(v)) return serr(msg, "NUMBER_VALUE cannot be converted to String");
    char *norm = NULL;
    ddb_num_status st = ddb_num_normalize(v->valuestring, &norm);
    if (st != DDB_NUM_OK) {
        ddb_num_message(st, v->valuestring, msg);
        return KN_EVALIDATION;
    }
    bool ok = kn_json_set_string(v, norm); /* the request's tree lives in its arena */
    free(norm);
    if (!ok) {
        kn_buf_puts(msg, "Internal server error");
        return KN_EIO;
    }
    return 0;
}

static int check_set(const char *type, cJSON *v, kn_buf *msg)
{
    if (!cJSON_IsArray(v)) return serr(msg, "Unexpected value type in payload");
    if (!v->child) {
        kn_buf_puts(msg, PREFIX);
        kn_buf_puts(msg, type[0] == 'S'   ? "An string set  may not be empty"
                         : type[0] == 'N' ? "An number set  may not be empty"
                                          : "Binary sets should not be empty");
        return KN_EVALIDATION;
    }
    for (cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsString(e)) return serr(msg, "Unexpected value type in payload");
        int rc = type[0] == 'N' ? check_num(e, msg) : type[0] == 'B' ? check_b64(e->valuestring, msg) : 0;
        if (rc) return rc;
    }
    const char elem[2] = {type[0], '\0'};
    size_t n;
    const char **sorted = ddb_set_sorted(elem, v, &n);
    bool dup = false;
    for (size_t i = 0; i + 1 < n && !dup; i++)
        dup = ddb_set_member_cmp(elem, sorted[i], sorted[i + 1]) == 0;
    free(sorted);
    if (dup) {
        kn_buf_puts(msg, PREFIX);
        if (type[0] == 'S') {
            kn_buf_puts(msg, "Input collection [");
            for (cJSON *g = v->child; g; g = g->next)
                kn_buf_printf(msg, "%s%s", g == v->child ? "" : ", ", g->valuestring);
            kn_buf_puts(msg, "] contains duplicates.");
        } else {
            kn_buf_puts(msg, "Input collection contains duplicates.");
        }
        return KN_EVALIDATION;
    }
    return 0;
}

static int av_check(cJSON *av, int depth, kn_buf *msg)
{
    if (depth > DDB_MAX_DEPTH) return verr(msg, "Nesting Levels have exceeded supported limits");
    if (!cJSON_IsObject(av)) return serr(msg, "Unexpected value type in payload");
    int count = 0;
    cJSON *v = NULL;
    const char *type = NULL;
    for (cJSON *m = av->child; m; m = m->next) {
        if (cJSON_IsNull(m)) continue;
        for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
            if (m->string && strcmp(m->string, TYPES[i]) == 0) {
                count++;
                type = TYPES[i];
                v = m;
            }
    }
    if (count == 0)
        return verr(msg,
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    if (count > 1)
        return verr(
            msg, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                 "supported datatypes");
    if (strcmp(type, "S") == 0) return cJSON_IsString(v) ? 0 : serr(msg, "Unexpected value type in payload");
    if (strcmp(type, "N") == 0) return check_num(v, msg);
    if (strcmp(type, "B") == 0)
        return cJSON_IsString(v) ? check_b64(v->valuestring, msg)
                                 : serr(msg, "Unexpected value type in payload");
    if (strcmp(type, "BOOL") == 0) return cJSON_IsBool(v) ? 0 : serr(msg, "Unexpected value type in payload");
    if (strcmp(type, "NULL") == 0) {
        if (!cJSON_IsBool(v)) return serr(msg, "Unexpected value type in payload");
        return cJSON_IsTrue(v) ? 0
                               : verr(msg, PREFIX "Null attribute value types must have the value of true");
    }
    if (strcmp(type, "M") == 0) {
        if (!cJSON_IsObject(v)) return serr(msg, "Unexpected value type in payload");
        for (cJSON *e = v->child; e; e = e->next) {
            int rc = av_check(e, depth + 1, msg);
            if (rc) return rc;
        }
        return 0;
    }
    if (strcmp(type, "L") == 0) {
        if (!cJSON_IsArray(v)) return serr(msg, "Unexpected value type in payload");
        for (cJSON *e = v->child; e; e = e->next) {
            int rc = av_check(e, depth + 1, msg);
            if (rc) return rc;
        }
        return 0;
    }
    return check_set(type, v, msg);
}

int ddb_av_check(cJSON *av, kn_buf *msg)
{
    return av_check(av, 0, msg);
}

int ddb_item_check(cJSON *item, kn_buf *msg)
{
    if (!cJSON_IsObject(item)) return serr(msg, "Unexpected value type in payload");
    for (cJSON *e = item->child; e; e = e->next) {
        int rc = av_check(e, 1, msg);
        if (rc) return rc;
    }
    return 0;
}

static bool bytes_equal(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = ddb_b64_bytes(a, &la), *y = ddb_b64_bytes(b, &lb);
    bool eq = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

static bool scalar_equal(const char *type, const cJSON *a, const cJSON *b)
{
    if (!cJSON_IsString(a) || !cJSON_IsString(b)) return false;
    if (type[0] == 'N') return ddb_num_cmp(a->valuestring, b->valuestring) == 0;
    if (type[0] == 'B') return bytes_equal(a->valuestring, b->valuestring);
    return strcmp(a->valuestring, b->valuestring) == 0;
}

int ddb_set_member_cmp(const char *elem_type, const char *a, const char *b)
{
    return elem_type[0] == 'N' ? ddb_num_cmp(a, b) : strcmp(a, b);
}

static int by_number(const void *a, const void *b)
{
    return ddb_num_cmp(*(const char *const *)a, *(const char *const *)b);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **ddb_set_sorted(const char *elem_type, const cJSON *arr, size_t *n)
{
    size_t k = 0;
    for (const cJSON *e = arr->child; e; e = e->next)
        k += cJSON_IsString(e);
    const char **v = kn_xmalloc((k ? k : 1) * sizeof *v);
    k = 0;
    for (const cJSON *e = arr->child; e; e = e->next)
        if (cJSON_IsString(e)) v[k++] = e->valuestring;
    qsort(v, k, sizeof *v, elem_type[0] == 'N' ? by_number : by_text);
    *n = k;
    return v;
}

bool ddb_sorted_has(const char *elem_type, const char *const *sorted, size_t n, const char *v)
{
    return bsearch(&v, sorted, n, sizeof *sorted, elem_type[0] == 'N' ? by_number : by_text) != NULL;
}

bool ddb_set_has(const char *elem_type, const cJSON *set, const cJSON *v)
{
    for (const cJSON *e = set->child; e; e = e->next)
        if (scalar_equal(elem_type, e, v)) return true;
    return false;
}

bool ddb_av_equal(const cJSON *a, const cJSON *b)
{
    cJSON *va = NULL, *vb = NULL;
    const char *ta = ddb_av_type(a, &va), *tb = ddb_av_type(b, &vb);
    if (!ta || !tb || strcmp(ta, tb) != 0) return false;
    if (strcmp(ta, "BOOL") == 0) return cJSON_IsTrue(va) == cJSON_IsTrue(vb);
    if (strcmp(ta, "NULL") == 0) return true;
    if (strlen(ta) == 1 && ta[0] != 'M' && ta[0] != 'L') return scalar_equal(ta, va, vb);
    if (strcmp(ta, "L") == 0) {
        const cJSON *x = va->child, *y = vb->child;
        for (; x && y; x = x->next, y = y->next)
            if (!ddb_av_equal(x, y)) return false;
        return !x && !y;
    }
    if (cJSON_GetArraySize(va) != cJSON_GetArraySize(vb)) return false;
    if (strcmp(ta, "M") == 0) {
        for (const cJSON *x = va->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(vb, x->string);
            if (!y || !ddb_av_equal(x, y)) return false;
        }
        return true;
    }
    /* SS, NS, BS of the same size: equal when their sorted members are */
    const char elem[2] = {ta[0], '\0'};
    size_t na, nb;
    const char **sa = ddb_set_sorted(elem, va, &na), **sb = ddb_set_sorted(elem, vb, &nb);
    bool equal = na == nb;
    for (size_t i = 0; equal && i < na; i++)
        equal = ddb_set_member_cmp(elem, sa[i], sb[i]) == 0;
    free(sa);
    free(sb);
    return equal;
}

int ddb_av_cmp(const cJSON *a, const cJSON *b)
{
    cJSON *va = NULL, *vb = NULL;
    const char *ta = ddb_av_type(a, &va), *tb = ddb_av_type(b, &vb);
    if (!ta || !tb || strcmp(ta, tb) != 0 || strlen(ta) != 1 || !cJSON_IsString(va) || !cJSON_IsString(vb))
        return -2;
    int c;
    if (ta[0] == 'N') {
        c = ddb_num_cmp(va->valuestring, vb->valuestring);
    } else if (ta[0] == 'S') {
        c = strcmp(va->valuestring, vb->valuestring);
    } else if (ta[0] == 'B') {
        size_t la, lb;
        unsigned char *x = ddb_b64_bytes(va->valuestring, &la), *y = ddb_b64_bytes(vb->valuestring, &lb);
        c = memcmp(x, y, la < lb ? la : lb);
        if (c == 0) c = la == lb ? 0 : la < lb ? -1 : 1;
        free(x);
        free(y);
    } else {
        return -2;
    }
    return c < 0 ? -1 : c > 0;
}

bool ddb_av_contains(const cJSON *hay, const cJSON *needle)
{
    cJSON *vh = NULL, *vn = NULL;
    const char *th = ddb_av_type(hay, &vh), *tn = ddb_av_type(needle, &vn);
    if (!th || !tn) return false;
    if (strcmp(th, "S") == 0)
        return strcmp(tn, "S") == 0 && cJSON_IsString(vh) && cJSON_IsString(vn) &&
               strstr(vh->valuestring, vn->valuestring) != NULL;
    if (strcmp(th, "B") == 0) {
        if (strcmp(tn, "B") != 0) return false;
        size_t lh, ln;
        unsigned char *h = ddb_b64_bytes(vh->valuestring, &lh), *n = ddb_b64_bytes(vn->valuestring, &ln);
        bool found = ln == 0 || (lh >= ln && memmem(h, lh, n, ln) != NULL);
        free(h);
        free(n);
        return found;
    }
    if (strcmp(th, "L") == 0) {
        for (const cJSON *e = vh->child; e; e = e->next)
            if (ddb_av_equal(e, needle)) return true;
        return false;
    }
    if (strlen(th) == 2 && th[1] == 'S' && strlen(tn) == 1 && tn[0] == th[0]) return ddb_set_has(tn, vh, vn);
    return false;
}

static size_t num_size(const char *s)
{
    ddb_dec x;
    if (ddb_dec_parse(s, &x) != DDB_NUM_OK) return 1;
    return (size_t)(x.n + 1) / 2 + 1;
}

static size_t b64_size(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n && s[n - 1] == '=') pad++;
    if (n > 1 && s[n - 2] == '=') pad++;
    return n / 4 * 3 - pad;
}

static size_t av_bytes(const cJSON *av)
{
    cJSON *v = NULL;
    const char *t = ddb_av_type(av, &v);
    if (!t) return 0;
    size_t n = 0;
    switch (t[0]) {
    case 'S':
        if (t[1] == '\0') return cJSON_IsString(v) ? strlen(v->valuestring) : 0;
        for (const cJSON *e = v->child; e; e = e->next)
            n += cJSON_IsString(e) ? strlen(e->valuestring) : 0;
        return n;
    case 'N':
        if (t[1] == '\0') return cJSON_IsString(v) ? num_size(v->valuestring) : 0;
        if (t[1] == 'U') return 1; /* NULL */
        for (const cJSON *e = v->child; e; e = e->next)
            n += cJSON_IsString(e) ? num_size(e->valuestring) : 0;
        return n;
    case 'B':
        if (t[1] == '\0') return cJSON_IsString(v) ? b64_size(v->valuestring) : 0;
        if (t[1] == 'O') return 1; /* BOOL */
        for (const cJSON *e = v->child; e; e = e->next)
            n += cJSON_IsString(e) ? b64_size(e->valuestring) : 0;
        return n;
    case 'M':
        n = 3;
        for (const cJSON *e = cJSON_IsObject(v) ? v->child : NULL; e; e = e->next)
            n += strlen(e->string) + av_bytes(e) + 1;
        return n;
    case 'L':
        n = 3;
        for (const cJSON *e = v->child; e; e = e->next)
            n += av_bytes(e) + 1;
        return n;
    }
    return 0;
}

size_t ddb_item_size(const cJSON *item)
{
    size_t n = 0;
    for (const cJSON *e = cJSON_IsObject(item) ? item->child : NULL; e; e = e->next)
        n += strlen(e->string) + av_bytes(e);
    return n;
}

int64_t ddb_av_size(const cJSON *av)
{
    cJSON *v = NULL;
    const char *t = ddb_av_type(av, &v);
    if (!t) return -1;
    if (strcmp(t, "S") == 0) {
        int64_t n = 0;
        for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
            if ((*p & 0xc0) != 0x80) n++; /* count code points */
        return n;
    }
    if (strcmp(t, "B") == 0) return (int64_t)b64_size(v->valuestring);
    if (strcmp(t, "N") == 0 || strcmp(t, "BOOL") == 0 || strcmp(t, "NULL") == 0) return -1;
    return cJSON_GetArraySize(v);
}

const char *ddb_type_word(const char *t)
{
    static const char *const words[][2] = {
        {"S", "STRING"},      {"N", "NUMBER"}, {"B", "BINARY"}, {"SS", "STRING_SET"}, {"NS", "NUMBER_SET"},
        {"BS", "BINARY_SET"}, {"M", "MAP"},    {"L", "LIST"},   {"NULL", "NULL"},     {"BOOL", "BOOLEAN"}};
    for (size_t i = 0; t && i < sizeof words / sizeof words[0]; i++)
        if (strcmp(words[i][0], t) == 0) return words[i][1];
    return "UNKNOWN";
}

int ddb_key_encode(const cJSON *av, kn_buf *out)
{
    cJSON *v = NULL;
    const char *t = ddb_av_type(av, &v);
    if (!t || strlen(t) != 1 || !cJSON_IsString(v)) return -1;
    if (t[0] == 'S') {
        kn_buf_puts(out, v->valuestring);
        return 0;
    }
    if (t[0] == 'B') {
        size_t n;
        unsigned char *b = ddb_b64_bytes(v->valuestring, &n);
        kn_buf_append(out, b, n);
        free(b);
        return 0;
    }
    if (t[0] != 'N') return -1;
    ddb_dec x;
    if (ddb_dec_parse(v->valuestring, &x) != DDB_NUM_OK) return -1;
    /* zero sorts between negatives (0x40 ...) and positives (0xc0 ...); a positive's exponent
     * and digits sort directly, a negative's inverted and ended by 0xff so that a longer
     * magnitude (more negative) sorts first */
    if (x.n == 0) {
        kn_buf_putc(out, (char)0x80);
        return 0;
    }
    unsigned e = (unsigned)(x.exp + 0x200);
    if (!x.neg) {
        kn_buf_putc(out, (char)0xc0);
        kn_buf_putc(out, (char)(e >> 8));
        kn_buf_putc(out, (char)(e & 0xff));
        for (int i = 0; i < x.n; i++)
            kn_buf_putc(out, (char)(x.d[i] + 1));
    } else {
        e = 0xffff - e;
        kn_buf_putc(out, (char)0x40);
        kn_buf_putc(out, (char)(e >> 8));
        kn_buf_putc(out, (char)(e & 0xff));
        for (int i = 0; i < x.n; i++)
            kn_buf_putc(out, (char)(10 - x.d[i]));
        kn_buf_putc(out, (char)0xff);
    }
    return 0;
}
