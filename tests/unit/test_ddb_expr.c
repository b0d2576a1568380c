/* Unit tests for DynamoDB expressions: the parser on good and bad input (AWS's messages),
 * condition evaluation, and update application. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "server/ddb/attr.h"
#include "server/ddb/expr.h"

static const char NAMES[] = "{\"#c\":\"leaseCounter\",\"#k\":\"leaseKey\",\"#s\":\"status\",\"#m\":\"meta\"}";
static const char VALUES[] =
    "{\":one\":{\"N\":\"1\"},\":two\":{\"N\":\"2\"},\":w\":{\"S\":\"worker-1\"},\":p\":{\"S\":\"wor\"},"
    "\":ss\":{\"SS\":[\"a\",\"b\"]},\":l\":{\"L\":[{\"S\":\"z\"}]},\":t\":{\"S\":\"N\"},\":e\":{\"L\":[]}}";
static const char ITEM[] =
    "{\"leaseKey\":{\"S\":\"shard-1\"},\"leaseCounter\":{\"N\":\"2\"},\"leaseOwner\":{\"S\":\"worker-1\"},"
    "\"tags\":{\"SS\":[\"a\",\"c\"]},\"meta\":{\"M\":{\"x\":{\"L\":[{\"N\":\"5\"},{\"S\":\"y\"}]}}},"
    "\"status\":{\"S\":\"ok\"}}";

typedef struct fixture {
    cJSON *names, *values, *item;
    ddb_ctx ctx;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->names = cJSON_Parse(NAMES);
    f->values = cJSON_Parse(VALUES);
    f->item = cJSON_Parse(ITEM);
    ddb_ctx_init(&f->ctx, f->names, f->values);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ddb_ctx_free(&f->ctx);
    cJSON_Delete(f->names);
    cJSON_Delete(f->values);
    cJSON_Delete(f->item);
    free(f);
    return 0;
}

static bool cond(fixture *f, const char *src)
{
    ddb_node *n = NULL;
    int rc = ddb_parse_condition(&f->ctx, "ConditionExpression", src, &n);
    if (rc) fail_msg("%s: %s", src, kn_buf_cstr(&f->ctx.msg));
    return ddb_eval(n, f->item);
}

static void expect_cond_error(fixture *f, const char *src, const char *msg)
{
    ddb_node *n = NULL;
    int rc = ddb_parse_condition(&f->ctx, "ConditionExpression", src, &n);
    if (rc != KN_EVALIDATION) fail_msg("%s: parsed, expected %s", src, msg);
    if (strcmp(kn_buf_cstr(&f->ctx.msg), msg) != 0)
        fail_msg("%s:\n  got  %s\n  want %s", src, kn_buf_cstr(&f->ctx.msg), msg);
}

static void conditions(void **state)
{
    fixture *f = *state;
    assert_true(cond(f, "attribute_exists(leaseKey)"));
    assert_true(cond(f, "#k = :w OR attribute_exists (leaseKey)")); /* space before '(' as KCL 3 sends */
    assert_false(cond(f, "attribute_not_exists(#k)"));
    assert_true(cond(f, "#c = :two AND leaseOwner = :w"));
    assert_true(cond(f, "#c <> :one"));
    assert_true(cond(f, "absent <> :one")); /* <> holds for an absent attribute */
    assert_false(cond(f, "absent = :one"));
    assert_false(cond(f, "absent < :one"));
    assert_true(cond(f, "#c BETWEEN :one AND :two"));
    assert_true(cond(f, "#c IN (:one, :two)"));
    assert_true(cond(f, "NOT #c = :one"));
    assert_true(cond(f, "begins_with(leaseOwner, :p)"));
    assert_true(cond(f, "contains(tags, :p) OR contains(leaseOwner, :p)"));
    assert_true(cond(f, "size(tags) = :two AND size(#m.x) > :one"));
    assert_true(cond(f, "attribute_type(#c, :t)"));
    assert_true(cond(f, "#m.x[0] = :one OR #m.x[0] > :two"));
    assert_true(cond(f, "(#c = :one OR #c = :two) and leaseOwner = :w"));
    assert_true(cond(f, "#s = :w OR #s <> :w"));
    assert_int_equal(ddb_check_unused(&f->ctx), KN_EVALIDATION);
    assert_string_equal(kn_buf_cstr(&f->ctx.msg),
                        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:ss, :l, :e}");
}

static void condition_errors(void **state)
{
    fixture *f = *state;
    expect_cond_error(f, "  ", "Invalid ConditionExpression: The expression can not be empty;");
    expect_cond_error(f, "a = ", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"");
    expect_cond_error(f, "a = = :one", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= =\"");
    expect_cond_error(f, "a @ :one", "Invalid ConditionExpression: Syntax error; token: \"@\", near: \"a @\"");
    expect_cond_error(f, "status = :w",
                      "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status");
    expect_cond_error(f, "#nope = :w", "Invalid ConditionExpression: An expression attribute name used in the document "
                                       "path is not defined; attribute name: #nope");
    expect_cond_error(f, "a = :nope", "Invalid ConditionExpression: An expression attribute value used in expression is "
                                      "not defined; attribute value: :nope");
    expect_cond_error(f, "foo(a)", "Invalid ConditionExpression: Invalid function name; function: foo");
    expect_cond_error(f, "Size(a) > :one", "Invalid ConditionExpression: Invalid function name; function: Size");
    expect_cond_error(f, "size(a, b) > :one", "Invalid ConditionExpression: Incorrect number of operands for operator "
                                              "or function; operator or function: size, number of operands: 2");
    expect_cond_error(f, "size(a)", "Invalid ConditionExpression: The function is not allowed to be used this way in "
                                    "an expression; function: size");
    expect_cond_error(f, "attribute_exists(:w)", "Invalid ConditionExpression: Operator or function requires a "
                                                 "document path; operator or function: attribute_exists");
    expect_cond_error(f, "((a = :one))", "Invalid ConditionExpression: The expression has redundant parentheses;");
    expect_cond_error(f, "begins_with(a, :one)", "Invalid ConditionExpression: Incorrect operand type for operator or "
                                                 "function; operator or function: begins_with, operand type: NUMBER");
    expect_cond_error(f, "a BETWEEN :two AND :one",
                      "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or "
                      "equal to lower bound; lower bound operand: AttributeValue: {\"N\":\"2\"}, upper bound operand: "
                      "AttributeValue: {\"N\":\"1\"}");
    expect_cond_error(f, "a = a", "Invalid ConditionExpression: The first operand must be distinct from the remaining "
                                  "operands for this operator or function; operator: =, first operand: [a]");
}

static void expect_update_error(fixture *f, const char *src, const char *msg)
{
    ddb_update u;
    int rc = ddb_parse_update(&f->ctx, src, &u);
    if (rc != KN_EVALIDATION) fail_msg("%s: parsed, expected %s", src, msg);
    if (strcmp(kn_buf_cstr(&f->ctx.msg), msg) != 0)
        fail_msg("%s:\n  got  %s\n  want %s", src, kn_buf_cstr(&f->ctx.msg), msg);
}

static void update_errors(void **state)
{
    fixture *f = *state;
    expect_update_error(f, "", "Invalid UpdateExpression: The expression can not be empty;");
    expect_update_error(f, "SET a = :one SET b = :two",
                        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;");
    expect_update_error(f, "SET a = :one REMOVE a.b",
                        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite "
                        "one of these paths; path one: [a], path two: [a, b]");
    expect_update_error(f, "SET a[1] = :one REMOVE a.b",
                        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite "
                        "one of these paths; path one: [a, [1]], path two: [a, b]");
    expect_update_error(f, "ADD a :w", "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                       "operator: ADD, operand type: STRING");
    expect_update_error(f, "SET a = size(b)", "Invalid UpdateExpression: The function is not allowed in an update "
                                              "expression; function: size");
    expect_update_error(f, "UPSERT a = :one", "Invalid UpdateExpression: Syntax error; token: \"UPSERT\", near: "
                                              "\"UPSERT\"");
}

static char *apply(fixture *f, const char *src, int *rc_out, kn_buf *msg)
{
    ddb_update u;
    int rc = ddb_parse_update(&f->ctx, src, &u);
    if (rc) fail_msg("%s: %s", src, kn_buf_cstr(&f->ctx.msg));
    cJSON *item = cJSON_Duplicate(f->item, 1);
    *rc_out = ddb_apply_update(&u, item, msg);
    free(u.act);
    char *s = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    return s;
}

static void expect_attr(fixture *f, const char *src, const char *name, const char *want_json)
{
    int rc;
    kn_buf m = KN_BUF_INIT;
    char *s = apply(f, src, &rc, &m);
    if (rc) fail_msg("%s: %s", src, kn_buf_cstr(&m));
    cJSON *item = cJSON_Parse(s);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    char *got = v ? cJSON_PrintUnformatted(v) : strdup("(absent)");
    if (strcmp(got, want_json) != 0) fail_msg("%s: %s is %s, want %s", src, name, got, want_json);
    free(got);
    cJSON_Delete(item);
    free(s);
    kn_buf_free(&m);
}

static void updates(void **state)
{
    fixture *f = *state;
    expect_attr(f, "SET #c = #c + :one", "leaseCounter", "{\"N\":\"3\"}");
    expect_attr(f, "set #c = #c - :two", "leaseCounter", "{\"N\":\"0\"}");
    expect_attr(f, "SET n = if_not_exists(n, :one)", "n", "{\"N\":\"1\"}");
    expect_attr(f, "SET #c = if_not_exists(#c, :one)", "leaseCounter", "{\"N\":\"2\"}");
    expect_attr(f, "SET l = list_append(if_not_exists(l, :e), :l)", "l", "{\"L\":[{\"S\":\"z\"}]}");
    expect_attr(f, "REMOVE leaseOwner", "leaseOwner", "(absent)");
    expect_attr(f, "ADD #c :two", "leaseCounter", "{\"N\":\"4\"}");
    expect_attr(f, "ADD fresh :one", "fresh", "{\"N\":\"1\"}");
    expect_attr(f, "ADD tags :ss", "tags", "{\"SS\":[\"a\",\"c\",\"b\"]}");
    expect_attr(f, "DELETE tags :ss", "tags", "{\"SS\":[\"c\"]}");
    expect_attr(f, "SET #m.y = :w, #m.x[5] = :one REMOVE #m.x[0]", "meta",
                "{\"M\":{\"x\":{\"L\":[{\"S\":\"y\"},{\"N\":\"1\"}]},\"y\":{\"S\":\"worker-1\"}}}");
    int rc;
    kn_buf m = KN_BUF_INIT;
    free(apply(f, "SET a = nope", &rc, &m));
    assert_int_equal(rc, KN_EVALIDATION);
    assert_string_equal(kn_buf_cstr(&m), "The provided expression refers to an attribute that does not exist in the item");
    kn_buf_reset(&m);
    free(apply(f, "SET a = leaseOwner + :one", &rc, &m));
    assert_string_equal(kn_buf_cstr(&m), "An operand in the update expression has an incorrect data type");
    kn_buf_reset(&m);
    free(apply(f, "SET nope.x = :one", &rc, &m));
    assert_string_equal(kn_buf_cstr(&m), "The document path provided in the update expression is invalid for update");
    kn_buf_reset(&m);
    free(apply(f, "ADD leaseOwner :one", &rc, &m));
    assert_string_equal(kn_buf_cstr(&m), "An operand in the update expression has an incorrect data type");
    kn_buf_free(&m);
}

static void projection(void **state)
{
    fixture *f = *state;
    ddb_path *paths;
    int n;
    assert_int_equal(ddb_parse_projection(&f->ctx, "leaseKey, #m.x[1], nope", &paths, &n), 0);
    assert_int_equal(n, 3);
    cJSON *p = ddb_project(f->item, paths, n);
    char *s = cJSON_PrintUnformatted(p);
    assert_string_equal(s, "{\"leaseKey\":{\"S\":\"shard-1\"},\"meta\":{\"M\":{\"x\":{\"L\":[{\"S\":\"y\"}]}}}}");
    free(s);
    cJSON_Delete(p);
    assert_int_equal(ddb_parse_projection(&f->ctx, "a, a.b", &paths, &n), KN_EVALIDATION);
    assert_string_equal(kn_buf_cstr(&f->ctx.msg), "Invalid ProjectionExpression: Two document paths overlap with each "
                                                  "other; must remove or rewrite one of these paths; path one: [a], "
                                                  "path two: [a, b]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(condition_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(update_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(updates, setup, teardown),
        cmocka_unit_test_setup_teardown(projection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
