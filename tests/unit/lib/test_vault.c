/* Sealing secrets at rest: round trip, binding to the key id, tamper detection, bad master keys. */
#include <stdio.h>
#include <string.h>

#include "lib/vault.h"

#include "unit.h"

#define MK "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_round_trip(void **state)
{
    (void)state;
    struct vault *v = NULL;
    char sealed[512], sealed2[512], out[256];
    const char *key = "AQ.Ab8RN6Lx-very-long-new-style-key_0123456789";

    assert_int_equal(vault_open(MK, NULL, &v), ST_OK);
    assert_int_equal(vault_seal(v, "k_1", key, sealed, sizeof(sealed)), ST_OK);
    assert_memory_equal(sealed, "v1:", 3);
    assert_null(strstr(sealed, "AQ.Ab8"));
    assert_int_equal(vault_unseal(v, "k_1", sealed, out, sizeof(out)), ST_OK);
    assert_string_equal(out, key);
    /* a fresh nonce each time */
    assert_int_equal(vault_seal(v, "k_1", key, sealed2, sizeof(sealed2)), ST_OK);
    assert_string_not_equal(sealed, sealed2);
    /* bound to the id: a sealed secret moved to another row does not open */
    assert_int_equal(vault_unseal(v, "k_2", sealed, out, sizeof(out)), ST_INVALID);
    /* any flipped character is detected */
    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
    assert_int_equal(vault_unseal(v, "k_1", sealed, out, sizeof(out)), ST_INVALID);
    assert_int_equal(vault_unseal(v, "k_1", "v1:", out, sizeof(out)), ST_INVALID);
    assert_int_equal(vault_unseal(v, "k_1", "plain", out, sizeof(out)), ST_INVALID);
    /* too small an output */
    assert_int_equal(vault_seal(v, "k_1", key, sealed, 20), ST_TOO_BIG);
    /* the reused contexts: a refused secret leaves nothing behind for the next ones */
    assert_int_equal(vault_unseal(v, "k_1", sealed2, out, sizeof(out)), ST_OK);
    assert_string_equal(out, key);
    for (int i = 0; i < 50; i++) {
        char id[16], secret[64];
        (void)snprintf(id, sizeof(id), "k_%d", i);
        (void)snprintf(secret, sizeof(secret), "AIza-secret-number-%d", i);
        assert_int_equal(vault_seal(v, id, secret, sealed, sizeof(sealed)), ST_OK);
        assert_int_equal(vault_unseal(v, i % 2 ? id : "k_x", sealed, out, sizeof(out)),
                         i % 2 ? ST_OK : ST_INVALID);
        if (i % 2)
            assert_string_equal(out, secret);
    }
    vault_free(v);
}

static void test_bad_master_keys(void **state)
{
    (void)state;
    struct vault *v = NULL;

    assert_int_equal(vault_open("abc", NULL, &v), ST_INVALID);
    assert_int_equal(vault_open(MK "00", NULL, &v), ST_INVALID);
    assert_int_equal(
        vault_open("zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL, &v),
        ST_INVALID);
    assert_int_equal(vault_open("", "/nonexistent/master_key", &v), ST_NOT_FOUND);
    assert_int_equal(vault_open("", "", &v), ST_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_master_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
