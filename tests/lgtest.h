/* lgtest.h — what every Check test file shares: reading fixtures, loading the
 * default policies, and a main() that runs one suite and prints Check's summary. */
#ifndef LG_TEST_H
#define LG_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Reads a whole file; aborts the test when it cannot. Caller frees. */
static inline char *lgt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* Loads a policy directory, failing the test with the first diagnostic. */
static inline lg_policy_set *lgt_load_policies(const char *dir)
{
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    lg_status st = lg_policy_load_dir(dir, &set, &diags);
    if (st != LG_OK) {
        char msg[1200] = "";
        if (diags.n)
            lg_diag_format(&diags.v[0], msg, sizeof msg);
        lg_diags_free(&diags);
        ck_abort_msg("loading %s: %s: %s", dir, lg_strerror(st), msg);
    }
    lg_diags_free(&diags);
    return set;
}

/* The first document of a YAML/JSON fixture file (a new reference). */
static inline json_t *lgt_load_manifest(const char *path)
{
    size_t len;
    char *text = lgt_read_file(path, &len);
    json_t *docs;
    lg_diag diag;
    ck_assert_msg(lg_documents_parse(path, text, len, &docs, &diag) == LG_OK, "%s: %s", path, diag.msg);
    json_t *doc = json_incref(json_array_get(docs, 0));
    ck_assert_msg(doc != NULL, "%s: no document", path);
    json_decref(docs);
    free(text);
    return doc;
}

#define LGT_MAIN(suite_fn)                                          \
    int main(void)                                                  \
    {                                                               \
        SRunner *sr = srunner_create(suite_fn());                   \
        srunner_run_all(sr, CK_NORMAL);                             \
        int failed = srunner_ntests_failed(sr);                     \
        srunner_free(sr);                                           \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                \
    }

#endif
