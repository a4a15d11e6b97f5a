/* test_jsonpatch.c — RFC 6902 / 6901, driven by tests/data/jsonpatch/:
 * cases.json   {comment, doc, patch, expected | error}: applied with lg_patch_apply;
 *              on error *doc must be the very same, unchanged document (atomicity);
 * pointers.json {doc, pointer, expected | absent}: lg_pointer_get;
 * push.json    {tokens, expected}: lg_pointer_push / lg_pointer_push_index;
 * equal.json   {a, b, equal}: lg_json_equal. */
#include "lgtest.h"
#include "jsonpatch.h"

#define DATA "tests/data/jsonpatch/"

static json_t *load(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "%s:%d: %s", path, err.line, err.text);
    ck_assert(json_is_array(j));
    return j;
}

static json_t *load_case(const char *file, int i)
{
    json_t *all = load(file);
    json_t *c = json_incref(json_array_get(all, (size_t)i));
    json_decref(all);
    ck_assert_ptr_nonnull(c);
    return c;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

START_TEST(test_case)
{
    json_t *c = load_case(DATA "cases.json", _i);
    const char *comment = json_string_value(json_object_get(c, "comment"));
    json_t *patch = json_object_get(c, "patch");
    json_t *patch_before = json_deep_copy(patch);
    json_t *doc = json_deep_copy(json_object_get(c, "doc"));
    json_t *orig = json_deep_copy(doc), *same = doc;
    json_t *expected = json_object_get(c, "expected");
    const char *error = json_string_value(json_object_get(c, "error"));
    ck_assert_msg(expected || error, "case %d (%s) has neither expected nor error", _i, comment);

    lg_diag d = {0};
    lg_status st = lg_patch_apply(&doc, patch, &d);
    char *got = dump(doc);
    if (error) {
        ck_assert_msg(st == LG_ERR_INPUT, "%s: status %d, doc %s", comment, st, got);
        ck_assert_msg(strstr(d.msg, error), "%s: message \"%s\", want \"%s\"", comment, d.msg, error);
        ck_assert_msg(doc == same && json_equal(doc, orig), "%s: doc changed to %s", comment, got);
    } else {
        char *want = dump(expected);
        ck_assert_msg(st == LG_OK, "%s: %s", comment, d.msg);
        ck_assert_msg(json_equal(doc, expected), "%s:\n got  %s\n want %s", comment, got, want);
        free(want);
    }
    ck_assert_msg(json_equal(patch, patch_before), "%s: the patch was modified", comment);
    free(got);
    json_decref(doc);
    json_decref(orig);
    json_decref(patch_before);
    json_decref(c);
}
END_TEST

START_TEST(test_pointer)
{
    json_t *c = load_case(DATA "pointers.json", _i);
    json_t *doc = json_object_get(c, "doc");
    const char *ptr = json_string_value(json_object_get(c, "pointer"));
    json_t *got = lg_pointer_get(doc, ptr);
    if (json_is_true(json_object_get(c, "absent"))) {
        ck_assert_msg(got == NULL, "\"%s\" resolved", ptr);
    } else {
        ck_assert_msg(got != NULL, "\"%s\" did not resolve", ptr);
        ck_assert_msg(json_equal(got, json_object_get(c, "expected")), "\"%s\"", ptr);
    }
    json_decref(c);
}
END_TEST

START_TEST(test_push)
{
    json_t *c = load_case(DATA "push.json", _i);
    lg_buf b;
    lg_buf_init(&b, 0);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(c, "tokens"), i, t) {
        if (json_is_integer(t))
            lg_pointer_push_index(&b, (size_t)json_integer_value(t));
        else
            lg_pointer_push(&b, json_string_value(t));
    }
    char *s = lg_buf_take(&b);
    ck_assert_str_eq(s, json_string_value(json_object_get(c, "expected")));
    free(s);
    json_decref(c);
}
END_TEST

START_TEST(test_equal)
{
    json_t *c = load_case(DATA "equal.json", _i);
    json_t *a = json_object_get(c, "a"), *b = json_object_get(c, "b");
    bool want = json_is_true(json_object_get(c, "equal"));
    char *sa = dump(a), *sb = dump(b);
    ck_assert_msg(lg_json_equal(a, b) == want, "%s vs %s", sa, sb);
    ck_assert_msg(lg_json_equal(b, a) == want, "%s vs %s (swapped)", sb, sa);
    free(sa);
    free(sb);
    json_decref(c);
}
END_TEST

/* A built pointer finds what it names, however odd the keys. */
START_TEST(test_push_then_get)
{
    json_t *doc = json_pack("{s:{s:[i,{s:s}]}}", "a/b~c", "", 0, "x/", "found");
    lg_buf b;
    lg_buf_init(&b, 0);
    lg_pointer_push(&b, "a/b~c");
    lg_pointer_push(&b, "");
    lg_pointer_push_index(&b, 1);
    lg_pointer_push(&b, "x/");
    char *p = lg_buf_take(&b);
    ck_assert_str_eq(p, "/a~1b~0c//1/x~1");
    ck_assert_str_eq(json_string_value(lg_pointer_get(doc, p)), "found");
    ck_assert_ptr_null(lg_pointer_get(NULL, p));
    ck_assert_ptr_null(lg_pointer_get(doc, NULL));
    free(p);
    json_decref(doc);
}
END_TEST

START_TEST(test_patch_add)
{
    json_t *patch = json_array();
    ck_assert(lg_patch_add(patch, "/spec/a~1b", json_integer(1)));
    ck_assert(lg_patch_add(patch, "/x", json_pack("{s:b}", "y", 0)));
    ck_assert(!lg_patch_add(patch, "/z", NULL)); /* a failed allocation upstream */
    char *s = json_dumps(patch, JSON_COMPACT);
    ck_assert_str_eq(s, "[{\"op\":\"add\",\"path\":\"/spec/a~1b\",\"value\":1},"
                        "{\"op\":\"add\",\"path\":\"/x\",\"value\":{\"y\":false}}]");
    free(s);
    /* and what it builds applies */
    json_t *doc = json_pack("{s:{}}", "spec");
    ck_assert_int_eq(lg_patch_apply(&doc, patch, NULL), LG_OK);
    ck_assert_int_eq(json_integer_value(lg_pointer_get(doc, "/spec/a~1b")), 1);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

/* The patched document shares no node with the patch: changing one leaves the other. */
START_TEST(test_no_sharing)
{
    json_t *patch = json_pack("[{s:s,s:s,s:{s:[]}}]", "op", "add", "path", "/a", "value", "b");
    json_t *doc = json_object();
    ck_assert_int_eq(lg_patch_apply(&doc, patch, NULL), LG_OK);
    json_array_append_new(lg_pointer_get(doc, "/a/b"), json_integer(1));
    ck_assert_uint_eq(json_array_size(lg_pointer_get(json_array_get(patch, 0), "/value/b")), 0);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

START_TEST(test_no_document)
{
    json_t *doc = NULL, *patch = json_array();
    lg_diag d = {0};
    ck_assert_int_eq(lg_patch_apply(&doc, patch, &d), LG_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "no document"));
    json_decref(patch);
}
END_TEST

/* Runs before the tests, so no ck_assert here: a missing file gives 1 case that fails. */
static int count(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);
    int n = json_is_array(j) && json_array_size(j) ? (int)json_array_size(j) : 1;
    json_decref(j);
    return n;
}

static Suite *jsonpatch_suite(void)
{
    Suite *s = suite_create("jsonpatch");
    TCase *tc = tcase_create("patch");
    int ncases = count(DATA "cases.json");
    if (ncases < 60) /* a truncated fixture must not pass quietly */
        ncases = 60;
    tcase_add_loop_test(tc, test_case, 0, ncases);
    tcase_add_loop_test(tc, test_pointer, 0, count(DATA "pointers.json"));
    tcase_add_loop_test(tc, test_push, 0, count(DATA "push.json"));
    tcase_add_loop_test(tc, test_equal, 0, count(DATA "equal.json"));
    tcase_add_test(tc, test_push_then_get);
    tcase_add_test(tc, test_patch_add);
    tcase_add_test(tc, test_no_sharing);
    tcase_add_test(tc, test_no_document);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(jsonpatch_suite)
