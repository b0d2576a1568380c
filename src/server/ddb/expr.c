/* Expression parser and evaluator. Grammar (spec Part A.7), lowest precedence first:
 *
 *   condition := and (OR and)*            and := not (AND not)*       not := NOT not | primary
 *   primary   := '(' condition ')' | operand comparator operand | operand BETWEEN operand AND operand
 *              | operand IN '(' operand (',' operand)* ')' | function
 *   operand   := path | :value | function          function := name '(' operand (',' operand)* ')'
 *   path      := (ident | #name) ('.' (ident | #name) | '[' digits ']')*
 *   update    := (SET set (',' set)* | REMOVE path (',' path)* | ADD path :v (',' ...)* | DELETE ...)+
 *   set       := path '=' operand (('+' | '-') operand)?
 *
 * Keywords are case-insensitive, function names are not; whitespace may appear anywhere between
 * tokens (including between a function name and its '('). */
#include "server/ddb/expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "server/ddb/attr.h"

/* ---- arena ---- */

struct ddb_arena_block {
    struct ddb_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *ddb_alloc(ddb_ctx *ctx, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    ddb_arena_block *b = ctx->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = kn_xmalloc(sizeof *b + cap);
        b->next = ctx->arena;
        b->used = 0;
        b->cap = cap;
        ctx->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strndup(ddb_ctx *ctx, const char *s, size_t n)
{
    char *d = ddb_alloc(ctx, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void ddb_ctx_init(ddb_ctx *ctx, cJSON *names, cJSON *values)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->names = names;
    ctx->values = values;
}

void ddb_ctx_free(ddb_ctx *ctx)
{
    while (ctx->arena) {
        ddb_arena_block *b = ctx->arena;
        ctx->arena = b->next;
        free(b);
    }
    free(ctx->used);
    kn_buf_free(&ctx->msg);
}

static void mark_used(ddb_ctx *ctx, cJSON *item)
{
    for (int i = 0; i < ctx->nused; i++)
        if (ctx->used[i] == item) return;
    if (ctx->nused == ctx->capused) {
        ctx->capused = ctx->capused ? ctx->capused * 2 : 16;
        ctx->used = kn_xrealloc(ctx->used, (size_t)ctx->capused * sizeof *ctx->used);
    }
    ctx->used[ctx->nused++] = item;
}

/* ---- tokens ---- */

typedef enum {
    T_EOF,
    T_IDENT,
    T_NAME,
    T_VALUE,
    T_NUM,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_DOT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_BAD
} tok_type;

typedef struct token {
    tok_type t;
    const char *s;
    size_t n;
} token;

typedef struct parser {
    ddb_ctx *ctx;
    const char *what; /* "ConditionExpression", ... */
    const char *p;
    token cur, prev;
    int err;
    int depth; /* parentheses, NOTs and function calls open: bounded, so no input can exhaust the stack */
} parser;

#define MAX_DEPTH 64
#define MAX_EXPRESSION 4096 /* AWS's limit on an expression's size, in bytes */

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void next(parser *ps)
{
    ps->prev = ps->cur;
    const char *p = ps->p;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    token t = {T_BAD, p, 1};
    if (!*p) {
        t.t = T_EOF;
        t.n = 0;
    } else if (is_alpha(*p)) {
        t.t = T_IDENT;
        while (is_alpha(p[t.n]) || is_digit(p[t.n]))
            t.n++;
    } else if ((*p == '#' || *p == ':') && (is_alpha(p[1]) || is_digit(p[1]))) {
        t.t = *p == '#' ? T_NAME : T_VALUE;
        while (is_alpha(p[t.n]) || is_digit(p[t.n]))
            t.n++;
    } else if (is_digit(*p)) {
        t.t = T_NUM;
        while (is_digit(p[t.n]))
            t.n++;
    } else {
        switch (*p) {
        case '(':
            t.t = T_LP;
            break;
        case ')':
            t.t = T_RP;
            break;
        case '[':
            t.t = T_LB;
            break;
        case ']':
            t.t = T_RB;
            break;
        case ',':
            t.t = T_COMMA;
            break;
        case '.':
            t.t = T_DOT;
            break;
        case '=':
            t.t = T_EQ;
            break;
        case '+':
            t.t = T_PLUS;
            break;
        case '-':
            t.t = T_MINUS;
            break;
        case '<':
            if (p[1] == '>')
                t.t = T_NE, t.n = 2;
            else if (p[1] == '=')
                t.t = T_LE, t.n = 2;
            else
                t.t = T_LT;
            break;
        case '>':
            if (p[1] == '=')
                t.t = T_GE, t.n = 2;
            else
                t.t = T_GT;
            break;
        default:
            break;
        }
    }
    ps->cur = t;
    ps->p = t.s + t.n;
}

static int fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *ps, const char *fmt, ...)
{
    if (ps->err) return ps->err;
    kn_buf *m = &ps->ctx->msg;
    kn_buf_reset(m);
    kn_buf_printf(m, "Invalid %s: ", ps->what);
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    kn_buf_puts(m, tmp);
    ps->err = KN_EVALIDATION;
    return ps->err;
}

/* Enters one level of nesting; fails once the input nests deeper than any sane expression. */
static bool enter(parser *ps)
{
    if (++ps->depth <= MAX_DEPTH) return true;
    fail(ps, "The expression is nested too deeply; maximum depth: %d", MAX_DEPTH);
    return false;
}

static int syntax_error(parser *ps)
{
    const token *c = &ps->cur, *pv = &ps->prev;
    const char *from = pv->s ? pv->s : c->s;
    const char *to = c->t == T_EOF ? (pv->s ? pv->s + pv->n : c->s) : c->s + c->n;
    if (c->t == T_EOF)
        return fail(ps, "Syntax error; token: \"<EOF>\", near: \"%.*s\"", (int)(to - from), from);
    return fail(ps, "Syntax error; token: \"%.*s\", near: \"%.*s\"", (int)c->n, c->s, (int)(to - from), from);
}

static bool is_kw(const token *t, const char *kw)
{
    return t->t == T_IDENT && strlen(kw) == t->n && strncasecmp(t->s, kw, t->n) == 0;
}

static bool expect(parser *ps, tok_type t)
{
    if (ps->err) return false;
    if (ps->cur.t != t) {
        syntax_error(ps);
        return false;
    }
    next(ps);
    return true;
}

/* ---- nodes ---- */

static ddb_node *node(parser *ps, ddb_node_kind kind, int op, int na)
{
    ddb_node *n = ddb_alloc(ps->ctx, sizeof *n);
    n->kind = kind;
    n->op = op;
    n->na = na;
    if (na) n->a = ddb_alloc(ps->ctx, (size_t)na * sizeof *n->a);
    return n;
}

static const char *const FUNC_NAMES[F_COUNT] = {
    "attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size",
    "if_not_exists",    "list_append"};

static const char *name_value(parser *ps, const token *t)
{
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)t->n, t->s);
    cJSON *v = ps->ctx->names ? cJSON_GetObjectItemCaseSensitive(ps->ctx->names, key) : NULL;
    if (!v || !cJSON_IsString(v)) {
        fail(ps, "An expression attribute name used in the document path is not defined; attribute name: %s",
             key);
        return NULL;
    }
    mark_used(ps->ctx, v);
    return v->valuestring;
}

static const char *path_name(parser *ps)
{
    token t = ps->cur;
    if (t.t == T_IDENT) {
        if (ddb_is_reserved(t.s, t.n)) {
            fail(ps, "Attribute name is a reserved keyword; reserved keyword: %.*s", (int)t.n, t.s);
            return NULL;
        }
        next(ps);
        return arena_strndup(ps->ctx, t.s, t.n);
    }
    if (t.t == T_NAME) {
        const char *n = name_value(ps, &t);
        if (n) next(ps);
        return n;
    }
    syntax_error(ps);
    return NULL;
}

static bool parse_path(parser *ps, ddb_path *out)
{
    int cap = 4;
    out->n = 0;
    out->el = ddb_alloc(ps->ctx, (size_t)cap * sizeof *out->el);
    const char *name = path_name(ps);
    if (!name) return false;
    out->el[out->n++].name = name;
    for (;;) {
        ddb_pel el = {NULL, 0};
        if (ps->cur.t == T_DOT) {
            next(ps);
            if (!(el.name = path_name(ps))) return false;
        } else if (ps->cur.t == T_LB) {
            next(ps);
            if (ps->cur.t != T_NUM) {
                syntax_error(ps);
                return false;
            }
            if (ps->cur.n > 9) {
                fail(ps, "Syntax error; token: \"%.*s\", near: \"[%.*s\"", (int)ps->cur.n, ps->cur.s,
                     (int)ps->cur.n, ps->cur.s);
                return false;
            }
            el.index = strtoll(ps->cur.s, NULL, 10);
            next(ps);
            if (!expect(ps, T_RB)) return false;
        } else {
            return true;
        }
        if (out->n == cap) {
            ddb_pel *bigger = ddb_alloc(ps->ctx, (size_t)cap * 2 * sizeof *bigger);
            memcpy(bigger, out->el, (size_t)cap * sizeof *bigger);
            out->el = bigger;
            cap *= 2;
        }
        out->el[out->n++] = el;
    }
}

static ddb_node *operand(parser *ps, bool update);

static ddb_node *function(parser *ps, bool update)
{
    token name = ps->cur;
    int f = -1;
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(FUNC_NAMES[i]) == name.n && strncmp(FUNC_NAMES[i], name.s, name.n) == 0) f = i;
    if (f < 0) {
        fail(ps, "Invalid function name; function: %.*s", (int)name.n, name.s);
        return NULL;
    }
    next(ps);
    if (!expect(ps, T_LP) || !enter(ps)) return NULL;
    ddb_node *args[8];
    int na = 0;
    if (ps->cur.t != T_RP) {
        for (;;) {
            ddb_node *a = operand(ps, update);
            if (!a) return NULL;
            if (na == 8) {
                syntax_error(ps);
                return NULL;
            }
            args[na++] = a;
            if (ps->cur.t != T_COMMA) break;
            next(ps);
        }
    }
    ps->depth--;
    if (!expect(ps, T_RP)) return NULL;
    ddb_node *n = node(ps, N_FUNC, f, na);
    memcpy(n->a, args, (size_t)na * sizeof *args);
    n->text = FUNC_NAMES[f];
    return n;
}

/* An operand; in update expressions a SET value operand may be a sum or difference. */
static ddb_node *operand(parser *ps, bool update)
{
    if (ps->err) return NULL;
    token t = ps->cur;
    if (t.t == T_VALUE) {
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)t.n, t.s);
        cJSON *v = ps->ctx->values ? cJSON_GetObjectItemCaseSensitive(ps->ctx->values, key) : NULL;
        if (!v) {
            fail(ps, "An expression attribute value used in expression is not defined; attribute value: %s",
                 key);
            return NULL;
        }
        mark_used(ps->ctx, v);
        next(ps);
        ddb_node *n = node(ps, N_VALUE, 0, 0);
        n->value = v;
        n->text = arena_strndup(ps->ctx, t.s, t.n);
        return n;
    }
    if (t.t == T_IDENT) {
        /* a function when '(' follows, whitespace allowed between */
        const char *q = t.s + t.n;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            q++;
        if (*q == '(') return function(ps, update);
    }
    if (t.t == T_IDENT || t.t == T_NAME) {
        ddb_node *n = node(ps, N_PATH, 0, 0);
        if (!parse_path(ps, &n->path)) return NULL;
        return n;
    }
    syntax_error(ps);
    return NULL;
}

static ddb_node *condition(parser *ps);

static int cmp_op(tok_type t)
{
    switch (t) {
    case T_EQ:
        return OP_EQ;
    case T_NE:
        return OP_NE;
    case T_LT:
        return OP_LT;
    case T_LE:
        return OP_LE;
    case T_GT:
        return OP_GT;
    case T_GE:
        return OP_GE;
    default:
        return -1;
    }
}

static ddb_node *primary(parser *ps)
{
    if (ps->err) return NULL;
    if (ps->cur.t == T_LP) {
        if (!enter(ps)) return NULL;
        next(ps);
        ddb_node *n = condition(ps);
        ps->depth--;
        if (!n || !expect(ps, T_RP)) return NULL;
        if (n->parenthesized) {
            fail(ps, "The expression has redundant parentheses;");
            return NULL;
        }
        n->parenthesized = true;
        return n;
    }
    ddb_node *a = operand(ps, false);
    if (!a) return NULL;
    int op = cmp_op(ps->cur.t);
    if (op >= 0) {
        next(ps);
        ddb_node *b = operand(ps, false);
        if (!b) return NULL;
        ddb_node *n = node(ps, N_CMP, op, 2);
        n->a[0] = a;
        n->a[1] = b;
        return n;
    }
    if (is_kw(&ps->cur, "BETWEEN")) {
        next(ps);
        ddb_node *lo = operand(ps, false);
        if (!lo) return NULL;
        if (!is_kw(&ps->cur, "AND")) {
            syntax_error(ps);
            return NULL;
        }
        next(ps);
        ddb_node *hi = operand(ps, false);
        if (!hi) return NULL;
        ddb_node *n = node(ps, N_BETWEEN, 0, 3);
        n->a[0] = a;
        n->a[1] = lo;
        n->a[2] = hi;
        return n;
    }
    if (is_kw(&ps->cur, "IN")) {
        next(ps);
        if (!expect(ps, T_LP)) return NULL;
        ddb_node *list[101];
        int n = 0;
        list[n++] = a;
        for (;;) {
            ddb_node *v = operand(ps, false);
            if (!v) return NULL;
            if (n == 101) {
                fail(ps, "The IN operator is provided with too many operands; number of operands: %d", n);
                return NULL;
            }
            list[n++] = v;
            if (ps->cur.t != T_COMMA) break;
            next(ps);
        }
        if (!expect(ps, T_RP)) return NULL;
        ddb_node *in = node(ps, N_IN, 0, n);
        memcpy(in->a, list, (size_t)n * sizeof *list);
        return in;
    }
    if (a->kind == N_FUNC) return a;
    syntax_error(ps);
    return NULL;
}

static ddb_node *negation(parser *ps)
{
    if (is_kw(&ps->cur, "NOT")) {
        if (!enter(ps)) return NULL;
        next(ps);
        ddb_node *inner = negation(ps);
        ps->depth--;
        if (!inner) return NULL;
        ddb_node *n = node(ps, N_NOT, 0, 1);
        n->a[0] = inner;
        return n;
    }
    return primary(ps);
}

static ddb_node *binary(parser *ps, const char *kw, ddb_node_kind kind, ddb_node *(*sub)(parser *))
{
    ddb_node *left = sub(ps);
    while (left && is_kw(&ps->cur, kw)) {
        next(ps);
        ddb_node *right = sub(ps);
        if (!right) return NULL;
        ddb_node *n = node(ps, kind, 0, 2);
        n->a[0] = left;
        n->a[1] = right;
        left = n;
    }
    return left;
}

static ddb_node *conjunction(parser *ps)
{
    return binary(ps, "AND", N_AND, negation);
}

static ddb_node *condition(parser *ps)
{
    return binary(ps, "OR", N_OR, conjunction);
}

/* ---- semantic checks ---- */

static bool is_bool_func(int f)
{
    return f <= F_CONTAINS;
}

static int check_operand_func(parser *ps, const ddb_node *n, bool update);

static int check_func(parser *ps, const ddb_node *n, bool update)
{
    static const int arity[F_COUNT] = {1, 1, 2, 2, 2, 1, 2, 2};
    const char *name = FUNC_NAMES[n->op];
    if (!update && (n->op == F_IF_NOT_EXISTS || n->op == F_LIST_APPEND))
        return fail(ps, "The function is not allowed in a condition expression; function: %s", name);
    if (update && n->op != F_IF_NOT_EXISTS && n->op != F_LIST_APPEND)
        return fail(ps, "The function is not allowed in an update expression; function: %s", name);
    if (n->na != arity[n->op])
        return fail(
            ps,
            "Incorrect number of operands for operator or function; operator or function: %s, number of "
            "operands: %d",
            name, n->na);
    if ((n->op <= F_ATTRIBUTE_TYPE || n->op == F_SIZE || n->op == F_IF_NOT_EXISTS) && n->a[0]->kind != N_PATH)
        return fail(ps, "Operator or function requires a document path; operator or function: %s", name);
    for (int i = 0; i < n->na; i++) {
        int rc = check_operand_func(ps, n->a[i], update);
        if (rc) return rc;
        if (n->a[i]->kind == N_FUNC && (n->op != F_LIST_APPEND && n->op != F_IF_NOT_EXISTS) &&
            n->a[i]->op != F_SIZE)
            return fail(ps, "The function is not allowed to be used this way in an expression; function: %s",
                        FUNC_NAMES[n->a[i]->op]);
    }
    if (n->op == F_ATTRIBUTE_TYPE) {
        cJSON *v = NULL;
        const char *t = n->a[1]->kind == N_VALUE ? ddb_av_type(n->a[1]->value, &v) : NULL;
        if (n->a[1]->kind == N_VALUE && (!t || strcmp(t, "S") != 0))
            return fail(ps,
                        "Incorrect operand type for operator or function; operator or function: %s, operand "
                        "type: %s",
                        name, ddb_type_word(t));
        if (t) {
            static const char *const valid[] = {"B", "NULL", "SS", "BOOL", "L", "BS", "N", "NS", "S", "M"};
            bool ok = false;
            for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
                ok |= strcmp(valid[i], v->valuestring) == 0;
            if (!ok)
                return fail(
                    ps,
                    "Invalid attribute type name found; type: %s, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,"
                    "S,M }",
                    v->valuestring);
        }
    }
    if (n->op == F_BEGINS_WITH)
        for (int i = 0; i < 2; i++)
            if (n->a[i]->kind == N_VALUE) {
                const char *t = ddb_av_type(n->a[i]->value, NULL);
                if (!t || (strcmp(t, "S") != 0 && strcmp(t, "B") != 0))
                    return fail(ps,
                                "Incorrect operand type for operator or function; operator or function: %s, "
                                "operand type: %s",
                                name, ddb_type_word(t));
            }
    if (n->op == F_LIST_APPEND)
        for (int i = 0; i < 2; i++)
            if (n->a[i]->kind == N_VALUE) {
                const char *t = ddb_av_type(n->a[i]->value, NULL);
                if (!t || strcmp(t, "L") != 0)
                    return fail(ps,
                                "Incorrect operand type for operator or function; operator or function: %s, "
                                "operand type: %s",
                                name, ddb_type_word(t));
            }
    return 0;
}

/* An operand that is a function must be a value-producing one (size, or in updates the two
 * update functions). */
static int check_operand_func(parser *ps, const ddb_node *n, bool update)
{
    if (n->kind != N_FUNC) return 0;
    if (!update && is_bool_func(n->op))
        return fail(ps, "The function is not allowed to be used this way in an expression; function: %s",
                    FUNC_NAMES[n->op]);
    return check_func(ps, n, update);
}

static bool same_path(const ddb_path *a, const ddb_path *b)
{
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++) {
        if ((a->el[i].name == NULL) != (b->el[i].name == NULL)) return false;
        if (a->el[i].name ? strcmp(a->el[i].name, b->el[i].name) != 0 : a->el[i].index != b->el[i].index)
            return false;
    }
    return true;
}

static int check_condition(parser *ps, const ddb_node *n)
{
    int rc = 0;
    switch (n->kind) {
    case N_AND:
    case N_OR:
    case N_NOT:
        for (int i = 0; i < n->na && !rc; i++)
            rc = check_condition(ps, n->a[i]);
        return rc;
    case N_FUNC:
        if (!is_bool_func(n->op) && n->op != F_IF_NOT_EXISTS && n->op != F_LIST_APPEND)
            return fail(ps, "The function is not allowed to be used this way in an expression; function: %s",
                        FUNC_NAMES[n->op]);
        return check_func(ps, n, false);
    case N_CMP:
        if (n->a[0]->kind == N_PATH && n->a[1]->kind == N_PATH && same_path(&n->a[0]->path, &n->a[1]->path)) {
            kn_buf b = KN_BUF_INIT;
            ddb_path_render(&n->a[0]->path, &b);
            static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">="};
            rc = fail(ps,
                      "The first operand must be distinct from the remaining operands for this operator or "
                      "function; operator: %s, first operand: %s",
                      ops[n->op], kn_buf_cstr(&b));
            kn_buf_free(&b);
            return rc;
        }
        /* fallthrough */
    case N_BETWEEN:
    case N_IN:
        for (int i = 0; i < n->na && !rc; i++)
            rc = check_operand_func(ps, n->a[i], false);
        if (!rc && n->kind == N_BETWEEN && n->a[1]->kind == N_VALUE && n->a[2]->kind == N_VALUE) {
            int c = ddb_av_cmp(n->a[1]->value, n->a[2]->value);
            if (c > 0) {
                char *lo = cJSON_PrintUnformatted(n->a[1]->value),
                     *hi = cJSON_PrintUnformatted(n->a[2]->value);
                rc = fail(
                    ps,
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                    "lower bound operand: AttributeValue: %s, upper bound operand: AttributeValue: %s",
                    lo, hi);
                cJSON_free(lo);
                cJSON_free(hi);
            }
        }
        return rc;
    default:
        return 0;
    }
}

static bool empty_src(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return false;
    return true;
}

/* Sets up a parse of src; returns false (the failure recorded) when src is over AWS's size. */
static bool start(parser *ps, ddb_ctx *ctx, const char *what, const char *src)
{
    memset(ps, 0, sizeof *ps);
    ps->ctx = ctx;
    ps->what = what;
    size_t n = strlen(src);
    if (n > MAX_EXPRESSION) {
        fail(ps, "Expression size has exceeded the maximum allowed size; expression size: %zu", n);
        return false;
    }
    ps->p = src;
    next(ps);
    ps->prev.s = NULL;
    return true;
}

int ddb_parse_condition(ddb_ctx *ctx, const char *what, const char *src, ddb_node **out)
{
    parser ps;
    if (!start(&ps, ctx, what, src)) return ps.err;
    if (empty_src(src)) return fail(&ps, "The expression can not be empty;");
    ddb_node *n = condition(&ps);
    if (n && ps.cur.t != T_EOF) syntax_error(&ps);
    if (ps.err) return ps.err;
    int rc = check_condition(&ps, n);
    if (rc) return rc;
    *out = n;
    return 0;
}

/* ---- update expressions ---- */

static ddb_node *set_value(parser *ps)
{
    ddb_node *a = operand(ps, true);
    if (!a) return NULL;
    if (ps->cur.t != T_PLUS && ps->cur.t != T_MINUS) return a;
    ddb_node_kind k = ps->cur.t == T_PLUS ? N_PLUS : N_MINUS;
    next(ps);
    ddb_node *b = operand(ps, true);
    if (!b) return NULL;
    ddb_node *n = node(ps, k, 0, 2);
    n->a[0] = a;
    n->a[1] = b;
    return n;
}

static void add_action(ddb_update *u, ddb_action a)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 8;
        u->act = kn_xrealloc(u->act, (size_t)u->cap * sizeof *u->act);
    }
    u->act[u->n++] = a;
}

/* Two paths overlap when one is a prefix of the other, and conflict when they diverge at the
 * same position as a map key against a list index. */
static int check_paths(parser *ps, ddb_path *const *paths, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const ddb_path *a = paths[i], *b = paths[j];
            int k = 0, m = a->n < b->n ? a->n : b->n;
            bool conflict = false;
            for (; k < m; k++) {
                const ddb_pel *x = &a->el[k], *y = &b->el[k];
                if ((x->name == NULL) != (y->name == NULL)) {
                    conflict = true;
                    break;
                }
                if (x->name ? strcmp(x->name, y->name) != 0 : x->index != y->index) break;
            }
            if (k == m || conflict) {
                kn_buf ra = KN_BUF_INIT, rb = KN_BUF_INIT;
                ddb_path_render(a, &ra);
                ddb_path_render(b, &rb);
                int rc =
                    fail(ps,
                         "Two document paths %s with each other; must remove or rewrite one of these paths; "
                         "path one: %s, path two: %s",
                         conflict ? "conflict" : "overlap", kn_buf_cstr(&ra), kn_buf_cstr(&rb));
                kn_buf_free(&ra);
                kn_buf_free(&rb);
                return rc;
            }
        }
    return 0;
}

static int check_value_tree(parser *ps, const ddb_node *n)
{
    if (n->kind == N_FUNC) return check_func(ps, n, true);
    for (int i = 0; i < n->na; i++) {
        int rc = check_value_tree(ps, n->a[i]);
        if (rc) return rc;
        if (n->kind != N_FUNC && n->a[i]->kind == N_VALUE) {
            const char *t = ddb_av_type(n->a[i]->value, NULL);
            if (t && strcmp(t, "N") != 0)
                return fail(ps,
                            "Incorrect operand type for operator or function; operator: %s, operand type: %s",
                            n->kind == N_PLUS ? "+" : "-", ddb_type_word(t));
        }
    }
    return 0;
}

int ddb_parse_update(ddb_ctx *ctx, const char *src, ddb_update *out)
{
    parser ps;
    if (!start(&ps, ctx, "UpdateExpression", src)) return ps.err;
    memset(out, 0, sizeof *out);
    if (empty_src(src)) return fail(&ps, "The expression can not be empty;");
    static const char *const SECTIONS[] = {"SET", "REMOVE", "ADD", "DELETE"};
    bool seen[4] = {false, false, false, false};
    while (!ps.err && ps.cur.t != T_EOF) {
        int s = -1;
        for (int i = 0; i < 4; i++)
            if (is_kw(&ps.cur, SECTIONS[i])) s = i;
        if (s < 0) {
            syntax_error(&ps);
            break;
        }
        if (seen[s]) {
            fail(&ps, "The \"%s\" section can only be used once in an update expression;", SECTIONS[s]);
            break;
        }
        seen[s] = true;
        next(&ps);
        do {
            if (ps.cur.t == T_COMMA) next(&ps);
            ddb_action a = {(ddb_update_kind)s, {NULL, 0}, NULL, false};
            if (!parse_path(&ps, &a.path)) break;
            if (s == U_SET) {
                if (!expect(&ps, T_EQ)) break;
                if (!(a.value = set_value(&ps))) break;
                if (check_value_tree(&ps, a.value)) break;
            } else if (s == U_ADD || s == U_DELETE) {
                if (ps.cur.t != T_VALUE) {
                    syntax_error(&ps);
                    break;
                }
                if (!(a.value = operand(&ps, true))) break;
                const char *t = ddb_av_type(a.value->value, NULL);
                bool ok = t && (strcmp(t, "SS") == 0 || strcmp(t, "NS") == 0 || strcmp(t, "BS") == 0 ||
                                (s == U_ADD && strcmp(t, "N") == 0));
                if (!ok) {
                    fail(&ps,
                         "Incorrect operand type for operator or function; operator: %s, operand type: %s",
                         SECTIONS[s], ddb_type_word(t));
                    break;
                }
            }
            add_action(out, a);
        } while (!ps.err && ps.cur.t == T_COMMA);
    }
    if (!ps.err) {
        ddb_path **paths = kn_xmalloc((size_t)(out->n ? out->n : 1) * sizeof *paths);
        for (int i = 0; i < out->n; i++)
            paths[i] = &out->act[i].path;
        check_paths(&ps, paths, out->n);
        free(paths);
    }
    if (ps.err) {
        free(out->act);
        memset(out, 0, sizeof *out);
    }
    return ps.err;
}

int ddb_parse_projection(ddb_ctx *ctx, const char *src, ddb_path **out, int *n)
{
    parser ps;
    if (!start(&ps, ctx, "ProjectionExpression", src)) return ps.err;
    if (empty_src(src)) return fail(&ps, "The expression can not be empty;");
    int cap = 8, k = 0;
    ddb_path *paths = ddb_alloc(ctx, (size_t)cap * sizeof *paths);
    for (;;) {
        if (k == cap) {
            ddb_path *bigger = ddb_alloc(ctx, (size_t)cap * 2 * sizeof *bigger);
            memcpy(bigger, paths, (size_t)cap * sizeof *paths);
            paths = bigger;
            cap *= 2;
        }
        if (!parse_path(&ps, &paths[k])) return ps.err;
        k++;
        if (ps.cur.t != T_COMMA) break;
        next(&ps);
    }
    if (ps.cur.t != T_EOF) return syntax_error(&ps);
    ddb_path **pp = kn_xmalloc((size_t)k * sizeof *pp);
    for (int i = 0; i < k; i++)
        pp[i] = &paths[i];
    int rc = check_paths(&ps, pp, k);
    free(pp);
    if (rc) return rc;
    *out = paths;
    *n = k;
    return 0;
}

static int unused(ddb_ctx *ctx, cJSON *map, const char *what)
{
    kn_buf keys = KN_BUF_INIT;
    for (cJSON *e = map ? map->child : NULL; e; e = e->next) {
        bool used = false;
        for (int i = 0; i < ctx->nused && !used; i++)
            used = ctx->used[i] == e;
        if (!used) kn_buf_printf(&keys, "%s%s", keys.len ? ", " : "", e->string);
    }
    int rc = 0;
    if (keys.len) {
        kn_buf_reset(&ctx->msg);
        kn_buf_printf(&ctx->msg, "Value provided in %s unused in expressions: keys: {%s}", what,
                      kn_buf_cstr(&keys));
        rc = KN_EVALIDATION;
    }
    kn_buf_free(&keys);
    return rc;
}

int ddb_check_unused(ddb_ctx *ctx)
{
    int rc = unused(ctx, ctx->names, "ExpressionAttributeNames");
    return rc ? rc : unused(ctx, ctx->values, "ExpressionAttributeValues");
}

/* ---- evaluation ---- */

cJSON *ddb_path_get(const cJSON *item, const ddb_path *p)
{
    if (!item || p->n == 0 || !p->el[0].name) return NULL;
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(item, p->el[0].name);
    for (int i = 1; cur && i < p->n; i++) {
        cJSON *v = NULL;
        const char *t = ddb_av_type(cur, &v);
        if (!t) return NULL;
        if (p->el[i].name)
            cur = strcmp(t, "M") == 0 ? cJSON_GetObjectItemCaseSensitive(v, p->el[i].name) : NULL;
        else
            cur = strcmp(t, "L") == 0 && p->el[i].index < cJSON_GetArraySize(v)
                      ? cJSON_GetArrayItem(v, (int)p->el[i].index)
                      : NULL;
    }
    return cur;
}

void ddb_path_render(const ddb_path *p, kn_buf *out)
{
    kn_buf_putc(out, '[');
    for (int i = 0; i < p->n; i++) {
        if (i) kn_buf_puts(out, ", ");
        if (p->el[i].name)
            kn_buf_puts(out, p->el[i].name);
        else
            kn_buf_printf(out, "[%lld]", (long long)p->el[i].index);
    }
    kn_buf_putc(out, ']');
}

/* The value of a condition operand; *tmp receives memory the caller frees (size()). */
static const cJSON *operand_value(const ddb_node *n, const cJSON *item, cJSON **tmp)
{
    *tmp = NULL;
    switch (n->kind) {
    case N_PATH:
        return ddb_path_get(item, &n->path);
    case N_VALUE:
        return n->value;
    case N_FUNC:
        if (n->op == F_SIZE) {
            const cJSON *v = ddb_path_get(item, &n->a[0]->path);
            int64_t sz = v ? ddb_av_size(v) : -1;
            if (sz < 0) return NULL;
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)sz);
            *tmp = cJSON_CreateObject();
            cJSON_AddStringToObject(*tmp, "N", num);
            return *tmp;
        }
        return NULL;
    default:
        return NULL;
    }
}

static bool begins_with(const cJSON *a, const cJSON *b)
{
    cJSON *va = NULL, *vb = NULL;
    const char *ta = ddb_av_type(a, &va), *tb = ddb_av_type(b, &vb);
    if (!ta || !tb || strcmp(ta, tb) != 0 || !cJSON_IsString(va) || !cJSON_IsString(vb)) return false;
    if (strcmp(ta, "S") == 0) return strncmp(va->valuestring, vb->valuestring, strlen(vb->valuestring)) == 0;
    if (strcmp(ta, "B") != 0) return false;
    size_t la, lb;
    unsigned char *x = ddb_b64_bytes(va->valuestring, &la), *y = ddb_b64_bytes(vb->valuestring, &lb);
    bool r = la >= lb && memcmp(x, y, lb) == 0;
    free(x);
    free(y);
    return r;
}

static bool compare(int op, const cJSON *a, const cJSON *b)
{
    if (op == OP_EQ) return a && b && ddb_av_equal(a, b);
    if (op == OP_NE) return !(a && b && ddb_av_equal(a, b));
    if (!a || !b) return false;
    int c = ddb_av_cmp(a, b);
    if (c == -2) return false;
    switch (op) {
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    case OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static bool between(const cJSON *v, const cJSON *lo, const cJSON *hi)
{
    if (!v || !lo || !hi) return false;
    int a = ddb_av_cmp(v, lo), b = ddb_av_cmp(v, hi);
    return a != -2 && b != -2 && a >= 0 && b <= 0;
}

static bool eval_legacy(const ddb_node *n, const cJSON *item)
{
    const cJSON *v = ddb_path_get(item, &n->a[0]->path);
    const cJSON *x = n->na > 1 ? n->a[1]->value : NULL;
    switch ((ddb_legacy_op)n->op) {
    case L_EXISTS:
    case L_EQ:
        return v && ddb_av_equal(v, x);
    case L_NE:
        return !v || !ddb_av_equal(v, x);
    case L_NOT_EXISTS:
    case L_NULL:
        return v == NULL;
    case L_NOT_NULL:
        return v != NULL;
    case L_LT:
        return compare(OP_LT, v, x);
    case L_LE:
        return compare(OP_LE, v, x);
    case L_GT:
        return compare(OP_GT, v, x);
    case L_GE:
        return compare(OP_GE, v, x);
    case L_CONTAINS:
        return v && ddb_av_contains(v, x);
    case L_NOT_CONTAINS:
        return v && !ddb_av_contains(v, x);
    case L_BEGINS_WITH:
        return v && begins_with(v, x);
    case L_BETWEEN:
        return between(v, x, n->a[2]->value);
    case L_IN:
        for (int i = 1; v && i < n->na; i++)
            if (ddb_av_equal(v, n->a[i]->value)) return true;
        return false;
    }
    return false;
}

bool ddb_eval(const ddb_node *n, const cJSON *item)
{
    cJSON *t0 = NULL, *t1 = NULL, *t2 = NULL;
    const cJSON *a, *b;
    bool r = false;
    switch (n->kind) {
    case N_AND:
        return ddb_eval(n->a[0], item) && ddb_eval(n->a[1], item);
    case N_OR:
        return ddb_eval(n->a[0], item) || ddb_eval(n->a[1], item);
    case N_NOT:
        return !ddb_eval(n->a[0], item);
    case N_LEGACY:
        return eval_legacy(n, item);
    case N_CMP:
        a = operand_value(n->a[0], item, &t0);
        b = operand_value(n->a[1], item, &t1);
        r = compare(n->op, a, b);
        break;
    case N_BETWEEN: {
        const cJSON *c;
        a = operand_value(n->a[0], item, &t0);
        b = operand_value(n->a[1], item, &t1);
        c = operand_value(n->a[2], item, &t2);
        r = between(a, b, c);
        break;
    }
    case N_IN:
        a = operand_value(n->a[0], item, &t0);
        for (int i = 1; a && i < n->na && !r; i++) {
            b = operand_value(n->a[i], item, &t1);
            r = b && ddb_av_equal(a, b);
            cJSON_Delete(t1);
            t1 = NULL;
        }
        break;
    case N_FUNC:
        switch (n->op) {
        case F_ATTRIBUTE_EXISTS:
            return ddb_path_get(item, &n->a[0]->path) != NULL;
        case F_ATTRIBUTE_NOT_EXISTS:
            return ddb_path_get(item, &n->a[0]->path) == NULL;
        case F_ATTRIBUTE_TYPE: {
            a = ddb_path_get(item, &n->a[0]->path);
            b = operand_value(n->a[1], item, &t1);
            cJSON *tv = NULL;
            const char *want = b ? ddb_av_type(b, &tv) : NULL;
            const char *have = a ? ddb_av_type(a, NULL) : NULL;
            r = have && want && strcmp(want, "S") == 0 && strcmp(have, tv->valuestring) == 0;
            break;
        }
        case F_BEGINS_WITH:
            a = operand_value(n->a[0], item, &t0);
            b = operand_value(n->a[1], item, &t1);
            r = a && b && begins_with(a, b);
            break;
        case F_CONTAINS:
            a = operand_value(n->a[0], item, &t0);
            b = operand_value(n->a[1], item, &t1);
            r = a && b && ddb_av_contains(a, b);
            break;
        default:
            break;
        }
        break;
    default:
        break;
    }
    cJSON_Delete(t0);
    cJSON_Delete(t1);
    cJSON_Delete(t2);
    return r;
}

/* ---- applying updates ---- */

#define E_MISSING "The provided expression refers to an attribute that does not exist in the item"
#define E_TYPE "An operand in the update expression has an incorrect data type"
#define E_PATH "The document path provided in the update expression is invalid for update"
#define E_LEGACY_TYPE "One or more parameter values were invalid: Type mismatch for attribute to update"

static int uerr(kn_buf *msg, const char *text)
{
    kn_buf_puts(msg, text);
    return KN_EVALIDATION;
}

static cJSON *number_av(const ddb_dec *x)
{
    char buf[200];
    ddb_dec_format(x, buf);
    cJSON *av = cJSON_CreateObject();
    cJSON_AddStringToObject(av, "N", buf);
    return av;
}

/* Evaluates a SET value against the original item into a new AttributeValue (*out). */
static int eval_value(const ddb_node *n, const cJSON *item, cJSON **out, kn_buf *msg)
{
    *out = NULL;
    if (n->kind == N_VALUE) {
        *out = cJSON_Duplicate(n->value, 1);
        return 0;
    }
    if (n->kind == N_PATH) {
        const cJSON *v = ddb_path_get(item, &n->path);
        if (!v) return uerr(msg, E_MISSING);
        *out = cJSON_Duplicate(v, 1);
        return 0;
    }
    if (n->kind == N_FUNC && n->op == F_IF_NOT_EXISTS) {
        const cJSON *v = ddb_path_get(item, &n->a[0]->path);
        if (v) {
            *out = cJSON_Duplicate(v, 1);
            return 0;
        }
        return eval_value(n->a[1], item, out, msg);
    }
    cJSON *a = NULL, *b = NULL;
    int rc = eval_value(n->a[0], item, &a, msg);
    if (!rc) rc = eval_value(n->a[1], item, &b, msg);
    if (rc) goto done;
    cJSON *va = NULL, *vb = NULL;
    const char *ta = ddb_av_type(a, &va), *tb = ddb_av_type(b, &vb);
    if (n->kind == N_FUNC) { /* list_append */
        if (!ta || !tb || strcmp(ta, "L") != 0 || strcmp(tb, "L") != 0) {
            rc = uerr(msg, E_TYPE);
            goto done;
        }
        while (vb->child)
            cJSON_AddItemToArray(va, cJSON_DetachItemViaPointer(vb, vb->child));
        *out = a;
        a = NULL;
        goto done;
    }
    if (!ta || !tb || strcmp(ta, "N") != 0 || strcmp(tb, "N") != 0) {
        rc = uerr(msg, E_TYPE);
        goto done;
    }
    ddb_dec x, y, z;
    ddb_dec_parse(va->valuestring, &x);
    ddb_dec_parse(vb->valuestring, &y);
    ddb_num_status st = ddb_dec_add(&x, &y, n->kind == N_MINUS, &z);
    if (st != DDB_NUM_OK) {
        ddb_num_message(st, "", msg);
        rc = KN_EVALIDATION;
        goto done;
    }
    *out = number_av(&z);
done:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return rc;
}

/* The container a path's last element lives in: the item for a top-level name, else the M
 * object or L array of its parent. NULL when the parent is missing or of the wrong type. */
static cJSON *parent_of(cJSON *item, const ddb_path *p)
{
    if (p->n == 1) return item;
    ddb_path up = {p->el, p->n - 1};
    cJSON *parent = ddb_path_get(item, &up);
    cJSON *v = NULL;
    const char *t = parent ? ddb_av_type(parent, &v) : NULL;
    if (!t) return NULL;
    if (p->el[p->n - 1].name ? strcmp(t, "M") != 0 : strcmp(t, "L") != 0) return NULL;
    return v;
}

static int set_path(cJSON *item, const ddb_path *p, cJSON *val, kn_buf *msg)
{
    cJSON *c = parent_of(item, p);
    if (!c) {
        cJSON_Delete(val);
        return uerr(msg, E_PATH);
    }
    const ddb_pel *last = &p->el[p->n - 1];
    if (last->name) {
        if (cJSON_GetObjectItemCaseSensitive(c, last->name))
            cJSON_ReplaceItemInObjectCaseSensitive(c, last->name, val);
        else
            cJSON_AddItemToObject(c, last->name, val);
    } else if (last->index < cJSON_GetArraySize(c)) {
        cJSON_ReplaceItemInArray(c, (int)last->index, val);
    } else {
        cJSON_AddItemToArray(c, val);
    }
    return 0;
}

static int remove_path(cJSON *item, const ddb_path *p, kn_buf *msg)
{
    cJSON *c = parent_of(item, p);
    if (!c) {
        if (p->n > 1) {
            ddb_path up = {p->el, p->n - 1};
            if (ddb_path_get(item, &up)) return uerr(msg, E_PATH);
        }
        return 0;
    }
    const ddb_pel *last = &p->el[p->n - 1];
    if (last->name)
        cJSON_DeleteItemFromObjectCaseSensitive(c, last->name);
    else if (last->index < cJSON_GetArraySize(c))
        cJSON_DeleteItemFromArray(c, (int)last->index);
    return 0;
}

static int add_to(cJSON *item, const ddb_action *a, kn_buf *msg)
{
    const cJSON *val = a->value->value;
    cJSON *cur = ddb_path_get(item, &a->path);
    if (!cur) return set_path(item, &a->path, cJSON_Duplicate(val, 1), msg);
    cJSON *vc = NULL, *vv = NULL;
    const char *tc = ddb_av_type(cur, &vc), *tv = ddb_av_type(val, &vv);
    const char *mismatch = a->legacy ? E_LEGACY_TYPE : E_TYPE;
    if (!tc || !tv || strcmp(tc, tv) != 0) return uerr(msg, mismatch);
    if (strcmp(tc, "N") == 0) {
        ddb_dec x, y, z;
        ddb_dec_parse(vc->valuestring, &x);
        ddb_dec_parse(vv->valuestring, &y);
        ddb_num_status st = ddb_dec_add(&x, &y, false, &z);
        if (st != DDB_NUM_OK) {
            ddb_num_message(st, "", msg);
            return KN_EVALIDATION;
        }
        return set_path(item, &a->path, number_av(&z), msg);
    }
    if (strcmp(tc, "L") == 0 && a->legacy) {
        for (const cJSON *e = vv->child; e; e = e->next)
            cJSON_AddItemToArray(vc, cJSON_Duplicate(e, 1));
        return 0;
    }
    if (strlen(tc) != 2 || tc[1] != 'S') return uerr(msg, mismatch);
    const char elem[2] = {tc[0], '\0'};
    size_t n;
    const char **have = ddb_set_sorted(elem, vc, &n); /* what vc held before; vv adds distinct members */
    for (const cJSON *e = vv->child; e; e = e->next)
        if (cJSON_IsString(e) && !ddb_sorted_has(elem, have, n, e->valuestring))
            cJSON_AddItemToArray(vc, cJSON_Duplicate(e, 1));
    free(have);
    return 0;
}

static int delete_from(cJSON *item, const ddb_action *a, kn_buf *msg)
{
    const cJSON *val = a->value->value;
    cJSON *cur = ddb_path_get(item, &a->path);
    if (!cur) return 0;
    cJSON *vc = NULL, *vv = NULL;
    const char *tc = ddb_av_type(cur, &vc), *tv = ddb_av_type(val, &vv);
    if (!tc || !tv || strcmp(tc, tv) != 0) return uerr(msg, a->legacy ? E_LEGACY_TYPE : E_TYPE);
    const char elem[2] = {tc[0], '\0'};
    size_t n;
    const char **gone = ddb_set_sorted(elem, vv, &n);
    cJSON *e = vc->child;
    while (e) {
        cJSON *nx = e->next;
        if (cJSON_IsString(e) && ddb_sorted_has(elem, gone, n, e->valuestring))
            cJSON_Delete(cJSON_DetachItemViaPointer(vc, e));
        e = nx;
    }
    free(gone);
    if (!vc->child) return remove_path(item, &a->path, msg);
    return 0;
}

static int cmp_remove(const void *x, const void *y)
{
    const ddb_action *a = *(ddb_action *const *)x, *b = *(ddb_action *const *)y;
    const ddb_pel *la = &a->path.el[a->path.n - 1], *lb = &b->path.el[b->path.n - 1];
    if (la->name || lb->name) return 0;
    return la->index < lb->index ? 1 : la->index > lb->index ? -1 : 0;
}

int ddb_apply_update(const ddb_update *u, cJSON *item, kn_buf *msg)
{
    int rc = 0;
    cJSON **vals = kn_xcalloc((size_t)(u->n ? u->n : 1), sizeof *vals);
    const ddb_action **removes = kn_xcalloc((size_t)(u->n ? u->n : 1), sizeof *removes);
    int nrem = 0;
    /* every SET value is computed from the item as it was before the update */
    for (int i = 0; i < u->n && !rc; i++)
        if (u->act[i].kind == U_SET) rc = eval_value(u->act[i].value, item, &vals[i], msg);
    for (int i = 0; i < u->n && !rc; i++) {
        const ddb_action *a = &u->act[i];
        switch (a->kind) {
        case U_SET:
            rc = set_path(item, &a->path, vals[i], msg);
            vals[i] = NULL;
            break;
        case U_REMOVE:
            removes[nrem++] = a;
            break;
        case U_ADD:
            rc = add_to(item, a, msg);
            break;
        case U_DELETE:
            rc = delete_from(item, a, msg);
            break;
        }
    }
    /* list elements go from the highest index down, so earlier removals do not shift later ones */
    qsort(removes, (size_t)nrem, sizeof *removes, cmp_remove);
    for (int i = 0; i < nrem && !rc; i++)
        rc = remove_path(item, &removes[i]->path, msg);
    for (int i = 0; i < u->n; i++)
        cJSON_Delete(vals[i]);
    free(vals);
    free(removes);
    return rc;
}

/* ---- projection ---- */

cJSON *ddb_project(const cJSON *item, const ddb_path *paths, int n)
{
    cJSON *out = cJSON_CreateObject();
    for (int i = 0; i < n; i++) {
        const ddb_path *p = &paths[i];
        const cJSON *v = ddb_path_get(item, p);
        if (!v) continue;
        cJSON *c = out; /* an object of name -> AV, or an array of AVs */
        for (int k = 0; k < p->n; k++) {
            const ddb_pel *el = &p->el[k];
            bool last = k == p->n - 1;
            if (last) {
                if (el->name) {
                    if (!cJSON_GetObjectItemCaseSensitive(c, el->name))
                        cJSON_AddItemToObject(c, el->name, cJSON_Duplicate(v, 1));
                } else {
                    cJSON_AddItemToArray(c, cJSON_Duplicate(v, 1));
                }
                break;
            }
            const char *kind = p->el[k + 1].name ? "M" : "L";
            cJSON *av = el->name ? cJSON_GetObjectItemCaseSensitive(c, el->name) : NULL;
            if (!av) {
                av = cJSON_CreateObject();
                cJSON_AddItemToObject(av, kind,
                                      p->el[k + 1].name ? cJSON_CreateObject() : cJSON_CreateArray());
                if (el->name)
                    cJSON_AddItemToObject(c, el->name, av);
                else
                    cJSON_AddItemToArray(c, av);
            }
            c = cJSON_GetObjectItemCaseSensitive(av, kind);
            if (!c) break;
        }
    }
    return out;
}
