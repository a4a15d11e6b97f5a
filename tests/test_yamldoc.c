/* test_yamldoc.c — lg_documents_parse: every fixture under tests/data/yamldoc/.
 * ok/NAME.yaml must parse to exactly ok/NAME.json (types compared strictly:
 * 1 and 1.0 differ); bad/NAME.yaml must fail with LG_ERR_INPUT at the line:col and
 * with the message given in bad/NAME.err ("LINE:COL message"). */
#include "lgtest.h"
#include "yamldoc.h"

#define DATA "tests/data/yamldoc/"

static const char *const ok_cases[] = {
    "multi-doc", "booleans", "ints", "floats", "nulls", "strings", "tags", "aliases", "keys",
    "bom", "bom-json", "utf16", "empty", "comments-only", "flow-not-json", "json-pod",
    "json-list", "json-bigint", "yaml-list", "depth-100", "json-depth-100", "alias-100000",
};

static const char *const bad_cases[] = {
    "duplicate-key", "duplicate-bool-key", "duplicate-key-json", "unclosed-flow", "bad-indent",
    "tab-indent", "unterminated-quote", "unknown-anchor", "self-alias", "nul-string",
    "nul-string-json", "invalid-utf8", "infinity", "nan", "bad-int-tag", "bad-bool-tag",
    "null-key", "complex-key", "merge-unknown", "merge-scalar", "second-doc-bad", "alias-bomb",
    "alias-100001", "depth-101", "json-depth-101",
};

static json_t *parse_file(const char *path, lg_status *st, lg_diag *diag)
{
    size_t len;
    char *buf = lgt_read_file(path, &len);
    json_t *out = (json_t *)1; /* must be reset to NULL on failure */
    *st = lg_documents_parse(path, buf, len, &out, diag);
    free(buf);
    return out;
}

START_TEST(test_ok)
{
    char in[256], exp[256];
    snprintf(in, sizeof in, DATA "ok/%s.yaml", ok_cases[_i]);
    snprintf(exp, sizeof exp, DATA "ok/%s.json", ok_cases[_i]);
    lg_status st;
    lg_diag d = {0};
    json_t *got = parse_file(in, &st, &d);
    ck_assert_msg(st == LG_OK, "%s: %s:%d:%d: %s", in, d.file, d.line, d.col, d.msg);
    json_error_t err;
    json_t *want = json_load_file(exp, 0, &err);
    ck_assert_msg(want != NULL, "%s: %s", exp, err.text);
    char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "%s:\n got  %s\n want %s", in, g, w);
    free(g);
    free(w);
    json_decref(got);
    json_decref(want);
}
END_TEST

START_TEST(test_bad)
{
    char in[256], errpath[256];
    snprintf(in, sizeof in, DATA "bad/%s.yaml", bad_cases[_i]);
    snprintf(errpath, sizeof errpath, DATA "bad/%s.err", bad_cases[_i]);
    char *expect = lgt_read_file(errpath, NULL);
    int line = 0, col = 0, off = 0;
    ck_assert_int_eq(sscanf(expect, "%d:%d %n", &line, &col, &off), 2);
    char *msg = expect + off;
    msg[strcspn(msg, "\n")] = '\0';

    lg_status st;
    lg_diag d = {0};
    json_t *got = parse_file(in, &st, &d);
    ck_assert_msg(st == LG_ERR_INPUT, "%s: status %d", in, st);
    ck_assert_ptr_null(got);
    ck_assert_str_eq(d.file, in);
    ck_assert_msg(d.line == line && d.col == col, "%s: at %d:%d, want %d:%d (%s)", in, d.line,
                  d.col, line, col, d.msg);
    ck_assert_msg(strstr(d.msg, msg), "%s: message \"%s\", want \"%s\"", in, d.msg, msg);
    free(expect);
}
END_TEST

/* The fast JSON path and the YAML path agree on JSON without integral reals. */
START_TEST(test_json_paths_agree)
{
    size_t len;
    char *buf = lgt_read_file(DATA "ok/json-list.yaml", &len);
    json_t *fast = NULL, *slow = NULL;
    lg_doc_marks marks = {0};
    ck_assert_int_eq(lg_documents_parse("f", buf, len, &fast, NULL), LG_OK);
    ck_assert_int_eq(lg_documents_parse_marked("f", buf, len, &slow, &marks, NULL), LG_OK);
    ck_assert(json_equal(fast, slow));
    ck_assert_uint_gt(marks.n, 10);
    json_decref(fast);
    json_decref(slow);
    lg_doc_marks_free(&marks);
    free(buf);
}
END_TEST

START_TEST(test_marks)
{
    size_t len;
    char *buf = lgt_read_file(DATA "marks.yaml", &len);
    json_t *docs = NULL;
    lg_doc_marks marks = {0};
    ck_assert_int_eq(lg_documents_parse_marked("marks.yaml", buf, len, &docs, &marks, NULL), LG_OK);
    ck_assert_uint_eq(json_array_size(docs), 2);

    const lg_doc_mark *m = lg_doc_mark_find(&marks, docs, NULL, 1);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->line, 9);
    ck_assert_int_eq(m->col, 1);

    json_t *doc = json_array_get(docs, 0), *cases = json_object_get(doc, "cases");
    m = lg_doc_mark_find(&marks, doc, "cases", 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->key_line, 3);
    ck_assert_int_eq(m->key_col, 1);
    ck_assert_int_eq(m->line, 4);
    ck_assert_int_eq(m->col, 3);

    m = lg_doc_mark_find(&marks, cases, NULL, 1);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->line, 6);
    ck_assert_int_eq(m->col, 5);

    json_t *expect = json_object_get(json_array_get(cases, 1), "expect");
    m = lg_doc_mark_find(&marks, expect, "allowed", 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->key_line, 7);
    ck_assert_int_eq(m->key_col, 14);
    ck_assert_int_eq(m->line, 7);
    ck_assert_int_eq(m->col, 23);

    ck_assert_ptr_null(lg_doc_mark_find(&marks, expect, "nope", 0));
    ck_assert_ptr_null(lg_doc_mark_find(&marks, cases, NULL, 2));
    json_decref(docs);
    lg_doc_marks_free(&marks);
    free(buf);
}
END_TEST

/* Marks are released on failure too; *out stays NULL. */
START_TEST(test_marks_on_error)
{
    static const char text[] = "a: 1\nb: [1, 2\n";
    json_t *docs = (json_t *)1;
    lg_doc_marks marks = {0};
    lg_diag d = {0};
    ck_assert_int_eq(lg_documents_parse_marked(NULL, text, sizeof text - 1, &docs, &marks, &d),
                     LG_ERR_INPUT);
    ck_assert_ptr_null(docs);
    ck_assert_uint_eq(marks.n, 0);
    ck_assert_ptr_null(marks.v);
    ck_assert_str_eq(d.file, "<input>");
}
END_TEST

START_TEST(test_zero_length)
{
    json_t *docs = NULL;
    ck_assert_int_eq(lg_documents_parse("z", "", 0, &docs, NULL), LG_OK);
    ck_assert_uint_eq(json_array_size(docs), 0);
    json_decref(docs);
}
END_TEST

/* Every prefix of every small fixture parses or fails cleanly (no crash, no leak,
 * *out NULL on failure): truncated uploads and half-written files. */
START_TEST(test_truncations)
{
    char in[256];
    snprintf(in, sizeof in, DATA "ok/%s.yaml", ok_cases[_i]);
    size_t len;
    char *buf = lgt_read_file(in, &len);
    if (len > 1024) /* keeps the valgrind run short; the start of a file is where the variety is */
        len = 1024;
    for (size_t n = 0; n <= len; n++) {
        char *copy = malloc(n + 1); /* exact size, so ASan sees any over-read */
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, buf, n);
        json_t *docs = (json_t *)1;
        lg_status st = lg_documents_parse(in, copy, n, &docs, NULL);
        ck_assert_msg(st == LG_OK || st == LG_ERR_INPUT, "%s[:%zu]: status %d", in, n, st);
        ck_assert(st == LG_OK ? json_is_array(docs) : docs == NULL);
        json_decref(st == LG_OK ? docs : NULL);
        free(copy);
    }
    free(buf);
}
END_TEST

/* A NULL diag is allowed. */
START_TEST(test_null_diag)
{
    static const char text[] = "a: [";
    json_t *docs = NULL;
    ck_assert_int_eq(lg_documents_parse("x", text, sizeof text - 1, &docs, NULL), LG_ERR_INPUT);
    ck_assert_ptr_null(docs);
}
END_TEST

static Suite *yamldoc_suite(void)
{
    Suite *s = suite_create("yamldoc");
    TCase *tc = tcase_create("documents");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_ok, 0, (int)(sizeof ok_cases / sizeof ok_cases[0]));
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_loop_test(tc, test_truncations, 0, (int)(sizeof ok_cases / sizeof ok_cases[0]));
    tcase_add_test(tc, test_json_paths_agree);
    tcase_add_test(tc, test_marks);
    tcase_add_test(tc, test_marks_on_error);
    tcase_add_test(tc, test_zero_length);
    tcase_add_test(tc, test_null_diag);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(yamldoc_suite)
