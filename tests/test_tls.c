/* test_tls.c — serving pair load, mismatch and garbage rejection, hot reload
 * keeping the old pair on failure, and pair lifetime across a reload. */
#include <unistd.h>
#include <sys/stat.h>

#include "lgtest.h"
#include "tls.h"

#define D "tests/data/serve/tls/"

static char tmp[64];

static void copy(const char *from, const char *to)
{
    size_t n;
    char *buf = lgt_read_file(from, &n);
    /* write next to the target and rename over it, as kubelet and cert-manager do */
    char part[600];
    snprintf(part, sizeof part, "%s.part", to);
    FILE *f = fopen(part, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    ck_assert_int_eq(rename(part, to), 0);
    free(buf);
}

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/lanegate-tls.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static void path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp, name);
}

START_TEST(loads_a_valid_pair)
{
    char err[512] = "";
    lg_tls *t = lg_tls_new(D "a.crt", D "a-key.pem", NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    char serial[80];
    lg_tls_serial(t, serial, sizeof serial);
    ck_assert_str_eq(serial, "02294bbda084cfc28090e9f7b9644edf2b9a72d1");
    ck_assert_int_eq(lg_tls_expiry(t), 4949065202LL); /* 2126-10-30T20:20:02Z */
    ck_assert_ptr_null(lg_tls_client_ca_pem(t));
    lg_tls_free(t);
}
END_TEST

START_TEST(rejects_bad_pairs)
{
    char err[512] = "";
    ck_assert_ptr_null(lg_tls_new(D "a.crt", D "b-key.pem", NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
    ck_assert_ptr_null(lg_tls_new(D "garbage.crt", D "a-key.pem", NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "garbage.crt") != NULL, "%s", err);
    ck_assert_ptr_null(lg_tls_new(D "a.crt", D "garbage.crt", NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "private key") != NULL, "%s", err);
    ck_assert_ptr_null(lg_tls_new(D "missing.crt", D "a-key.pem", NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "missing.crt") && strstr(err, "No such file"), "%s", err);
    ck_assert_ptr_null(lg_tls_new(D "a.crt", D "a-key.pem", D "garbage.crt", err, sizeof err));
    ck_assert_msg(strstr(err, "CA") != NULL, "%s", err);
    ck_assert_ptr_null(lg_tls_new(D "a.crt", D "a-key.pem", "/dev/null", err, sizeof err));
    ck_assert_msg(strstr(err, "empty") != NULL, "%s", err);
}
END_TEST

START_TEST(client_ca_is_kept_as_pem)
{
    char err[512] = "";
    lg_tls *t = lg_tls_new(D "a.crt", D "a-key.pem", D "b.crt", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_ptr_nonnull(strstr(lg_tls_client_ca_pem(t), "BEGIN CERTIFICATE"));
    lg_tls_free(t);
}
END_TEST

START_TEST(reload_swaps_only_a_good_pair)
{
    char crt[600], key[600], err[512] = "", serial[80];
    path(crt, sizeof crt, "tls.crt");
    path(key, sizeof key, "tls.key");
    copy(D "a.crt", crt);
    copy(D "a-key.pem", key);
    lg_tls *t = lg_tls_new(crt, key, NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), 0); /* nothing changed */

    copy(D "b.crt", crt); /* cert first: for a moment the pair does not match */
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
    lg_tls_serial(t, serial, sizeof serial);
    ck_assert_str_eq(serial, "02294bbda084cfc28090e9f7b9644edf2b9a72d1"); /* old kept */
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), 0); /* not retried until a change */

    copy(D "b-key.pem", key);
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), 1);
    lg_tls_serial(t, serial, sizeof serial);
    ck_assert_str_ne(serial, "02294bbda084cfc28090e9f7b9644edf2b9a72d1");
    char b_serial[80];
    snprintf(b_serial, sizeof b_serial, "%s", serial);

    copy(D "garbage.crt", crt);
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), -1);
    lg_tls_serial(t, serial, sizeof serial);
    ck_assert_str_eq(serial, b_serial);

    unlink(crt); /* a file missing during a swap */
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
    lg_tls_free(t);
}
END_TEST

/* A handshake keeps its pair alive across a reload until its connection ends
 * (run under ASan/valgrind: a premature free would be a use after free). */
START_TEST(pair_outlives_reload_while_a_connection_uses_it)
{
    char crt[600], key[600], err[512] = "";
    path(crt, sizeof crt, "tls.crt");
    path(key, sizeof key, "tls.key");
    copy(D "a.crt", crt);
    copy(D "a-key.pem", key);
    lg_tls *t = lg_tls_new(crt, key, NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);

    gnutls_session_t s;
    ck_assert_int_eq(gnutls_init(&s, GNUTLS_SERVER), 0);
    lg_tls_slot slot;
    lg_tls_conn_begin(t, s, &slot);
    gnutls_pcert_st *pc = NULL;
    unsigned npc = 0;
    gnutls_privkey_t pk = NULL;
    ck_assert_int_eq(lg_tls_cert_callback(s, NULL, 0, NULL, 0, &pc, &npc, &pk), 0);
    ck_assert_uint_eq(npc, 1);
    ck_assert_ptr_nonnull(slot.pair);
    /* a second callback on the same session releases the first reference */
    ck_assert_int_eq(lg_tls_cert_callback(s, NULL, 0, NULL, 0, &pc, &npc, &pk), 0);

    copy(D "b.crt", crt);
    copy(D "b-key.pem", key);
    ck_assert_int_eq(lg_tls_reload(t, err, sizeof err), 1);
    /* the old pair is still intact for this connection */
    gnutls_x509_crt_t x;
    ck_assert_int_eq(gnutls_x509_crt_init(&x), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(x, &pc[0].cert, GNUTLS_X509_FMT_DER), 0);
    unsigned char ser[40];
    size_t sl = sizeof ser;
    ck_assert_int_eq(gnutls_x509_crt_get_serial(x, ser, &sl), 0);
    ck_assert_uint_eq(ser[0], 0x02);
    ck_assert_uint_eq(ser[1], 0x29);
    gnutls_x509_crt_deinit(x);
    ck_assert_int_ge(gnutls_privkey_get_pk_algorithm(pk, NULL), 1);

    lg_tls_conn_end(&slot); /* last user: the old pair is freed here */
    ck_assert_ptr_null(slot.pair);
    lg_tls_conn_end(&slot); /* idempotent */
    gnutls_deinit(s);
    lg_tls_free(t);
}
END_TEST

START_TEST(no_peer_check_without_client_ca)
{
    char err[512] = "";
    lg_tls *t = lg_tls_new(D "a.crt", D "a-key.pem", NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert(lg_tls_peer_ok(t, NULL));
    lg_tls_free(t);
    t = lg_tls_new(D "a.crt", D "a-key.pem", D "b.crt", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert(!lg_tls_peer_ok(t, NULL)); /* with a CA, no session means no peer */
    gnutls_session_t s;
    ck_assert_int_eq(gnutls_init(&s, GNUTLS_SERVER), 0);
    ck_assert(!lg_tls_peer_ok(t, s)); /* a session without a peer certificate */
    gnutls_deinit(s);
    lg_tls_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loads_a_valid_pair);
    tcase_add_test(tc, rejects_bad_pairs);
    tcase_add_test(tc, client_ca_is_kept_as_pem);
    tcase_add_test(tc, reload_swaps_only_a_good_pair);
    tcase_add_test(tc, pair_outlives_reload_while_a_connection_uses_it);
    tcase_add_test(tc, no_peer_check_without_client_ca);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(suite)
