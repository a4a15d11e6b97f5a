/* test_hostpath.c — lg_hostpath_normalize (hostpath.c): the spellings of one
 * path that must compare equal, what ".." may and may not do, and the output
 * buffer at, below and above the size it needs. */
#include "lgtest.h"
#include "hostpath.h"

static const struct {
    const char *in, *out;
} cases[] = {
    /* the spellings the issue names */
    {"/dev/kvm", "/dev/kvm"},
    {"//dev//kvm", "/dev/kvm"},
    {"/dev/./kvm", "/dev/kvm"},
    {"/dev/kvm/", "/dev/kvm"},
    {"/dev/../dev/kvm", "/dev/kvm"},
    {"/../dev/kvm", "/dev/kvm"},
    /* the root and nothing */
    {"/", "/"},
    {"", "/"},
    {"//", "/"},
    {"///.//./", "/"},
    {"/..", "/"},
    {"/../../..", "/"},
    {"/.", "/"},
    /* parents stay parents */
    {"/dev", "/dev"},
    {"/dev/", "/dev"},
    {"/dev/kvm/..", "/dev"},
    {"/dev/kvm/../..", "/"},
    /* more ".." than components never climbs above / */
    {"/dev/../../../dev/kvm", "/dev/kvm"},
    {"/a/b/../../c", "/c"},
    {"/a/./b/./", "/a/b"},
    {"/dev//kvm//.", "/dev/kvm"},
    /* names that only look like . and .. */
    {"/dev/...", "/dev/..."},
    {"/dev/.kvm", "/dev/.kvm"},
    {"/dev/..kvm", "/dev/..kvm"},
    {"/dev/kvm..", "/dev/kvm.."},
    {"/dev/kvm.", "/dev/kvm."},
    /* relative input is taken from / */
    {"dev/kvm", "/dev/kvm"},
    {"./dev/kvm", "/dev/kvm"},
    {"../dev/kvm", "/dev/kvm"},
    {".", "/"},
    {"..", "/"},
    /* nothing else is special */
    {"/dev/kvm\\", "/dev/kvm\\"},
    {"/var/run/docker.sock", "/var/run/docker.sock"},
};

START_TEST(normalize_table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        ck_assert_msg(lg_hostpath_normalize(cases[i].in, out, sizeof out), "%s: failed", cases[i].in);
        ck_assert_msg(!strcmp(out, cases[i].out), "\"%s\" -> \"%s\", want \"%s\"", cases[i].in, out,
                      cases[i].out);
        /* normalising is idempotent */
        char again[64];
        ck_assert(lg_hostpath_normalize(out, again, sizeof again));
        ck_assert_str_eq(again, out);
    }
}
END_TEST

START_TEST(normalize_null_input)
{
    char out[4];
    ck_assert(lg_hostpath_normalize(NULL, out, sizeof out));
    ck_assert_str_eq(out, "/");
}
END_TEST

START_TEST(buffer_sizes)
{
    char out[32];
    /* "/dev/kvm" needs 9 bytes: at the size, one below, none */
    memset(out, 'X', sizeof out);
    ck_assert(lg_hostpath_normalize("//dev//kvm/", out, 9));
    ck_assert_str_eq(out, "/dev/kvm");
    memset(out, 'X', sizeof out);
    ck_assert(!lg_hostpath_normalize("//dev//kvm/", out, 8));
    ck_assert_int_eq(out[0], 'X'); /* nothing written on failure */
    ck_assert(!lg_hostpath_normalize("/dev/kvm", out, 0));
    ck_assert(!lg_hostpath_normalize("/dev/kvm", NULL, 9));

    /* "/" needs 2 */
    ck_assert(lg_hostpath_normalize("/..", out, 2));
    ck_assert_str_eq(out, "/");
    ck_assert(!lg_hostpath_normalize("", out, 1));

    /* only the result must fit, not the input or an intermediate form */
    ck_assert(lg_hostpath_normalize("/aaaaaaaaaaaaaaaaaaaa/../b", out, 3));
    ck_assert_str_eq(out, "/b");
    ck_assert(!lg_hostpath_normalize("/aaaaaaaaaaaaaaaaaaaa/../bc", out, 3));

    /* a long path, exactly at its size */
    char in[4096], big[4096];
    memset(in, 'a', sizeof in - 1);
    in[0] = '/';
    in[sizeof in - 1] = '\0';
    ck_assert(lg_hostpath_normalize(in, big, sizeof big));
    ck_assert_str_eq(big, in);
    ck_assert(!lg_hostpath_normalize(in, big, sizeof big - 1));
}
END_TEST

static Suite *hostpath_suite(void)
{
    Suite *s = suite_create("hostpath");
    TCase *tc = tcase_create("normalize");
    tcase_add_test(tc, normalize_table);
    tcase_add_test(tc, normalize_null_input);
    tcase_add_test(tc, buffer_sizes);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(hostpath_suite)
