/* test_alloc_docs.c — failing allocations in the document parser (yamldoc.c) and in
 * JSON Patch application (jsonpatch.c): the Nth malloc/calloc/realloc fails, for
 * N = 0, 1, 2... until the operation completes (the interposer is tests/alloc_fail.h).
 * Every run must end in LG_OK with the reference result or in an error status,
 * leak nothing, and lg_patch_apply must leave the document untouched when it
 * fails. Skipped under ASan and valgrind, which own malloc themselves. */
#include "lgtest.h"
#include "yamldoc.h"

#include "alloc_fail.h"

#ifndef LGT_NO_INTERPOSE
/* Files parsed under failing allocations: YAML with anchors and merges, JSON (the
 * fast path, and the YAML path behind it), several documents, an error. */
static const char *const doc_files[] = {
    "tests/data/yamldoc/ok/aliases.yaml",    "tests/data/yamldoc/ok/multi-doc.yaml",
    "tests/data/yamldoc/ok/json-list.yaml",  "tests/data/yamldoc/ok/keys.yaml",
    "tests/data/yamldoc/bad/duplicate-key.yaml", "tests/data/yamldoc/marks.yaml",
};

START_TEST(documents_survive_every_failed_allocation)
{
    const char *path = doc_files[_i];
    size_t len;
    char *buf = lgt_read_file(path, &len);
    json_t *ref = NULL;
    lg_status ref_st = lg_documents_parse(path, buf, len, &ref, NULL);
    size_t first = strspn(buf, " \t\r\n");
    bool json_text = buf[first] == '{' || buf[first] == '[';
    long n = 0;
    for (bool marked = false;; n++) {
        json_t *docs = (json_t *)1;
        lg_doc_marks marks = {0};
        lg_diag d = {0};
        long before = live;
        arm(n);
        lg_status st = marked ? lg_documents_parse_marked(path, buf, len, &docs, &marks, &d)
                              : lg_documents_parse(path, buf, len, &docs, &d);
        bool reached = disarm();
        if (st == LG_OK) {
            ck_assert_msg(ref_st == LG_OK, "%s: allocation %ld: an error became a success", path, n);
            ck_assert(json_is_array(docs));
            /* jansson 2.14's lexer ignores a failed buffer growth and returns a shortened
             * string (see test_alloc.c), so only the YAML path must give the same result. */
            if (marked || !json_text)
                ck_assert_msg(json_equal(docs, ref), "%s: allocation %ld: a different result", path, n);
        } else {
            ck_assert_msg(docs == NULL, "%s: allocation %ld: *out set on failure", path, n);
            ck_assert_msg(st == LG_ERR_NOMEM || st == LG_ERR_INPUT, "%s: allocation %ld: %s", path,
                          n, lg_strerror(st));
            ck_assert_uint_eq(marks.n, 0);
        }
        json_decref(st == LG_OK ? docs : NULL);
        lg_doc_marks_free(&marks);
        ck_assert_msg(live == before, "%s (%s), allocation %ld failed: %ld blocks leaked", path,
                      marked ? "marked" : "plain", n, live - before);
        if (!reached) {
            if (marked)
                break;
            marked = true; /* then the same again with marks */
            n = -1;
        }
    }
    ck_assert_int_gt(n, 10); /* the loop really failed allocations */
    json_decref(ref);
    free(buf);
}
END_TEST

START_TEST(patch_is_atomic_under_failed_allocations)
{
    json_error_t err;
    json_t *cases = json_load_file("tests/data/jsonpatch/cases.json", 0, &err);
    ck_assert_ptr_nonnull(cases);
    size_t i;
    json_t *c;
    long total = 0;
    json_array_foreach(cases, i, c) {
        json_t *patch = json_object_get(c, "patch");
        for (long n = 0;; n++, total++) {
            long before = live;
            json_t *doc = json_deep_copy(json_object_get(c, "doc"));
            json_t *orig = json_deep_copy(doc), *same = doc;
            arm(n);
            lg_status st = lg_patch_apply(&doc, patch, NULL);
            bool reached = disarm();
            if (st != LG_OK)
                ck_assert_msg(doc == same && json_equal(doc, orig),
                              "case %zu, allocation %ld: failed patch changed the document", i, n);
            else
                ck_assert_msg(json_equal(doc, json_object_get(c, "expected")),
                              "case %zu, allocation %ld: wrong result", i, n);
            json_decref(doc);
            json_decref(orig);
            ck_assert_msg(live == before, "case %zu, allocation %ld failed: %ld blocks leaked", i, n,
                          live - before);
            if (!reached)
                break;
        }
    }
    ck_assert_int_gt(total, 100);
    json_decref(cases);
}
END_TEST
#endif

static Suite *alloc_docs_suite(void)
{
    Suite *s = suite_create("alloc_docs");
    TCase *tc = tcase_create("failing allocations");
    tcase_set_timeout(tc, 120);
#ifndef LGT_NO_INTERPOSE
    if (!interposed()) {
        printf("alloc_docs: malloc is not interposable here (valgrind?): skipped\n");
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_loop_test(tc, documents_survive_every_failed_allocation, 0,
                        (int)(sizeof doc_files / sizeof doc_files[0]));
    tcase_add_test(tc, patch_is_atomic_under_failed_allocations);
#endif
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(alloc_docs_suite)
