/* Ids and masks of secrets: SHA-256 digests in hex (FIPS 180-2 vectors), ids, masks. */
#include <string.h>

#include "lib/keyid.h"

#include "unit.h"

static void test_digests(void **state)
{
    (void)state;
    char hex[65], small[64];
    const char *parts[] = {"a", "bc"};

    keyid_sha256_hex("abc", 3, hex, sizeof(hex));
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    keyid_sha256_hex("", 0, hex, sizeof(hex));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* no room for 64 digits and the NUL: nothing written but an empty string */
    small[0] = 'x';
    keyid_sha256_hex("abc", 3, small, sizeof(small));
    assert_string_equal(small, "");
    /* parts are hashed each followed by a newline: "a\nbc\n" */
    assert_true(keyid_sha256_hex_parts(parts, 2, hex, sizeof(hex)));
    char whole[65];
    keyid_sha256_hex("a\nbc\n", 5, whole, sizeof(whole));
    assert_string_equal(hex, whole);
    assert_false(keyid_sha256_hex_parts(parts, 2, small, sizeof(small)));
    assert_string_equal(small, "");
}

static void test_ids_and_masks(void **state)
{
    (void)state;
    char id[KEYID_LEN], mask[32];

    keyid_from_secret("k_", "abc", id, sizeof(id));
    assert_string_equal(id, "k_ba7816bf8f01");
    keyid_mask("AQ.Ab8RN6Lx-0123456789wxyz", mask, sizeof(mask));
    assert_string_equal(mask, "AQ.A\u2026wxyz");
    keyid_mask("short", mask, sizeof(mask));
    assert_string_equal(mask, "\u2026");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_ids_and_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
